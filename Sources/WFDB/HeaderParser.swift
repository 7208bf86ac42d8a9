import Foundation

/// Parses header(5) text into a `RecordHeader`. Pure: the caller reads the file.
public enum HeaderParser {
    /// Largest field values accepted; beyond these a header is treated as corrupt rather than trusted.
    static let maxSignals = 1 << 16
    static let maxSegments = 1 << 20
    static let maxSamplesPerFrame = 1 << 16
    static let maxSkew = 1 << 30

    /// Parses the bytes of a header file. `file` names it in errors.
    ///
    /// The text is UTF-8 when the bytes are valid UTF-8, else Latin-1 (every byte one character, as older WFDB
    /// tools wrote `µV`); `textEncoding` says which, so the writer can give the bytes back unchanged.
    public static func parse(_ bytes: Data, file: String) throws -> RecordHeader {
        if bytes.contains(0) { throw WFDBError.notText(file: file) }
        if let text = String(data: bytes, encoding: .utf8) { return try parse(text: text, file: file) }
        let latin1 = String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
        var header = try parse(text: latin1, file: file)
        header.textEncoding = .latin1
        return header
    }

    /// Parses header text. Lines may end in LF or CRLF.
    public static func parse(text: String, file: String) throws -> RecordHeader {
        // Lines with their 1-based numbers; comments collected, blank lines dropped.
        var lines: [(number: Int, text: Substring)] = []
        var comments: [String] = []
        var number = 0
        // "\r\n" is one Character in Swift, so split on scalars to number CRLF lines correctly.
        for rawLine in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var scalars = rawLine
            if scalars.last == "\r" { scalars = scalars.dropLast() }
            let line = Substring(scalars)
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.isEmpty { continue }
            if trimmed.first == "#" {
                comments.append(String(trimmed.dropFirst()).trimmingCharacters(in: .whitespaces))
                continue
            }
            if trimmed.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" }) {
                throw WFDBError.notText(file: file)
            }
            lines.append((number, trimmed))
        }
        guard let recordLine = lines.first else { throw WFDBError.emptyHeader(file: file) }
        var header = try parseRecordLine(recordLine.text, line: recordLine.number, file: file)
        header.comments = comments
        let body = lines.dropFirst()
        if header.segments != nil {
            let declared = header.segments?.count ?? 0
            var segments: [SegmentSpec] = []
            for entry in body {
                // header(5): "Any extra segment specification lines are to be ignored."
                if segments.count == declared {
                    header.ignoredLines.append(entry.number)
                    continue
                }
                segments.append(try parseSegmentLine(entry.text, line: entry.number, file: file))
            }
            if segments.count < declared {
                throw WFDBError.missingSignalLines(
                    file: file, line: lines.last?.number ?? recordLine.number, declared: declared, found: segments.count
                )
            }
            header.segments = segments
            let total = segments.reduce(0) { $0 &+ $1.sampleCount }
            if header.specifiedSampleCount == nil {
                header.sampleCount = total
                header.setRule(.sampleCount, "the sum of the segment lengths")
            }
            return header
        }
        var signals: [SignalSpec] = []
        for entry in body {
            // header(5): "Any extra signal specification lines are to be disregarded."
            if signals.count == header.signalCount {
                header.ignoredLines.append(entry.number)
                continue
            }
            signals.append(
                try parseSignalLine(
                    entry.text, line: entry.number, file: file, index: signals.count, record: header.name))
        }
        if signals.count < header.signalCount {
            throw WFDBError.missingSignalLines(
                file: file, line: lines.last?.number ?? recordLine.number,
                declared: header.signalCount, found: signals.count)
        }
        try checkGroups(signals, file: file)
        header.signals = signals
        return header
    }

    // MARK: - Record line

    static func parseRecordLine(_ text: Substring, line: Int, file: String) throws -> RecordHeader {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard let first = fields.first else { throw WFDBError.emptyHeader(file: file) }
        var name = first
        var segmentCount: Int?
        if let slash = first.firstIndex(of: "/") {
            name = first[..<slash]
            let countText = first[first.index(after: slash)...]
            guard let count = Int(countText), count > 0, count <= maxSegments else {
                throw WFDBError.invalidField(
                    file: file, line: line, field: "number of segments", value: String(countText))
            }
            segmentCount = count
        }
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." })
        else {
            throw WFDBError.malformedLine(file: file, line: line, reason: "invalid record name '\(first)'")
        }
        var header = RecordHeader(name: String(name), signals: [])
        if let count = segmentCount {
            header.segments = Array(repeating: SegmentSpec(name: "~", sampleCount: 0), count: count)
        }
        if fields.count > 1 {
            guard let nsig = Int(fields[1]), nsig >= 0, nsig <= maxSignals else {
                throw WFDBError.invalidField(
                    file: file, line: line, field: "number of signals", value: String(fields[1]))
            }
            header.signalCount = nsig
        }
        if fields.count > 2 {
            try parseFrequency(fields[2], into: &header, line: line, file: file)
        } else {
            header.defaults.append(AppliedDefault(.samplingFrequency))
        }
        if header.counterFrequency == nil && header.appliedDefault(.counterFrequency) == nil {
            header.defaults.append(AppliedDefault(.counterFrequency, rule: "the sampling frequency"))
        }
        if header.baseCounter == nil { header.defaults.append(AppliedDefault(.baseCounter)) }
        if fields.count > 3 {
            guard let count = Int(fields[3]) else {
                if let value = Double(fields[3]), value < 0 {
                    throw WFDBError.invalidSampleCount(file: file, line: line, value: String(fields[3]))
                }
                throw WFDBError.invalidField(
                    file: file, line: line, field: "number of samples", value: String(fields[3]))
            }
            guard count >= 0 else {
                throw WFDBError.invalidSampleCount(file: file, line: line, value: String(fields[3]))
            }
            header.sampleCount = count
        }
        if header.specifiedSampleCount == nil {
            header.defaults.append(
                AppliedDefault(
                    .sampleCount, given: fields.count > 3 ? String(fields[3]) : nil,
                    rule: "from the signal file's size; checksums not verified"))
        }
        if fields.count > 4 { header.baseTime = String(fields[4]) }
        if fields.count > 5 { header.baseDate = String(fields[5]) }
        if fields.count > 6 {
            throw WFDBError.malformedLine(file: file, line: line, reason: "too many fields on the record line")
        }
        return header
    }

    /// `fs[/counterfreq[(basecounter)]]`
    static func parseFrequency(_ text: Substring, into header: inout RecordHeader, line: Int, file: String) throws {
        var fsText = text
        if let slash = text.firstIndex(of: "/") {
            fsText = text[..<slash]
            var counter = text[text.index(after: slash)...]
            if let open = counter.firstIndex(of: "(") {
                guard counter.last == ")" else {
                    throw WFDBError.invalidField(
                        file: file, line: line, field: "base counter value", value: String(counter))
                }
                let base = counter[counter.index(after: open)..<counter.index(before: counter.endIndex)]
                guard let value = Double(base), value.isFinite else {
                    throw WFDBError.invalidField(
                        file: file, line: line, field: "base counter value", value: String(base))
                }
                header.baseCounter = value
                counter = counter[..<open]
            }
            guard let value = Double(counter), value.isFinite else {
                throw WFDBError.invalidField(file: file, line: line, field: "counter frequency", value: String(counter))
            }
            // header(5): a counter frequency that is not positive means the sampling frequency.
            if value > 0 {
                header.counterFrequency = value
            } else {
                header.defaults.append(
                    AppliedDefault(.counterFrequency, given: String(counter), rule: "the sampling frequency"))
            }
        }
        guard let fs = Double(fsText), fs.isFinite, RecordHeader.samplingFrequencyRange.contains(fs) else {
            throw WFDBError.invalidSamplingFrequency(file: file, line: line, value: String(fsText))
        }
        header.samplingFrequency = fs
    }

    // MARK: - Segment line

    static func parseSegmentLine(_ text: Substring, line: Int, file: String) throws -> SegmentSpec {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count == 2 else {
            throw WFDBError.malformedLine(
                file: file, line: line, reason: "segment line needs a name and a sample count")
        }
        guard let count = Int(fields[1]) else {
            throw WFDBError.invalidField(file: file, line: line, field: "segment length", value: String(fields[1]))
        }
        guard count >= 0 else {
            throw WFDBError.invalidSampleCount(file: file, line: line, value: String(fields[1]))
        }
        let name = String(fields[0])
        guard name == "~" || !(name.contains("/") || name.hasPrefix(".")) else {
            throw WFDBError.malformedLine(file: file, line: line, reason: "invalid segment name '\(name)'")
        }
        return SegmentSpec(name: name, sampleCount: count)
    }

    // MARK: - Signal line

    static func parseSignalLine(
        _ text: Substring, line: Int, file: String, index: Int, record: String
    ) throws -> SignalSpec {
        // Up to 8 whitespace-separated fields; the rest of the line is the description.
        var fields: [Substring] = []
        var rest = text[...]
        while fields.count < 8 {
            rest = rest.drop(while: { $0 == " " || $0 == "\t" })
            if rest.isEmpty { break }
            let end = rest.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? rest.endIndex
            fields.append(rest[..<end])
            rest = rest[end...]
        }
        let description = rest.trimmingCharacters(in: .whitespaces)
        guard fields.count >= 2 else {
            throw WFDBError.malformedLine(file: file, line: line, reason: "signal line needs a file name and a format")
        }
        let fileName = String(fields[0])
        guard fileName == "~" || (!fileName.contains("/") && !fileName.hasPrefix(".")) else {
            throw WFDBError.malformedLine(file: file, line: line, reason: "invalid signal file name '\(fileName)'")
        }
        let (format, spf, skew, offset) = try parseFormatField(fields[1], line: line, file: file)

        func int(_ position: Int, _ name: String) throws -> Int? {
            guard position < fields.count else { return nil }
            guard let value = Int(fields[position]), value >= Int(Int32.min), value <= Int(Int32.max) else {
                throw WFDBError.invalidField(file: file, line: line, field: name, value: String(fields[position]))
            }
            return value
        }
        let calibration = try parseGainField(fields.count > 2 ? fields[2] : nil, line: line, file: file)
        let resolution = try int(3, "ADC resolution")
        if let resolution, resolution < 0 || resolution > 32 {
            throw WFDBError.invalidField(file: file, line: line, field: "ADC resolution", value: String(resolution))
        }
        let zero = try int(4, "ADC zero")
        let initial = try int(5, "initial value")
        let checksum = try int(6, "checksum")
        // header(5) allows a negative block size (a file without fseek support); the reader never blocks reads.
        let blockSize = try int(7, "block size")
        var spec = SignalSpec(
            fileName: fileName, format: format, samplesPerFrame: spf, skew: skew, byteOffset: offset,
            gain: calibration.gain ?? SignalSpec.defaultGain, baseline: calibration.baseline ?? zero ?? 0,
            units: calibration.units ?? "mV",
            adcResolution: (resolution ?? 0) == 0 ? format.defaultADCResolution : resolution,
            adcZero: zero ?? 0, initialValue: initial ?? zero ?? 0, checksum: checksum, blockSize: blockSize ?? 0,
            description: description.isEmpty ? "record \(record), signal \(index)" : description)
        spec.line = line
        spec.defaults = signalDefaults(
            calibration, resolution: resolution, format: format,
            missing: [(.adcZero, zero), (.initialValue, initial), (.checksum, checksum), (.blockSize, blockSize)],
            hasDescription: !description.isEmpty)
        return spec
    }

    /// The defaults a signal line took, in field order: `missing` pairs each plain integer field with its value
    /// (nil when the line leaves it out).
    static func signalDefaults(
        _ calibration: Calibration, resolution: Int?, format: SignalFormat, missing: [(HeaderField, Int?)],
        hasDescription: Bool
    ) -> [AppliedDefault] {
        var defaults: [AppliedDefault] = []
        if calibration.gain == nil { defaults.append(AppliedDefault(.gain, given: calibration.gainText)) }
        if calibration.baseline == nil { defaults.append(AppliedDefault(.baseline, rule: "the ADC zero")) }
        if calibration.units == nil { defaults.append(AppliedDefault(.units)) }
        if (resolution ?? 0) == 0 {
            defaults.append(
                AppliedDefault(
                    .adcResolution, given: resolution.map(String.init),
                    rule: "the default for format \(format.rawValue)"
                ))
        }
        let rules: [HeaderField: String] = [.initialValue: "the ADC zero", .checksum: "not verified"]
        for (field, value) in missing where value == nil { defaults.append(AppliedDefault(field, rule: rules[field])) }
        if !hasDescription { defaults.append(AppliedDefault(.description)) }
        return defaults
    }

    /// What `gain[(baseline)][/units]` gives; nil where the field is missing. `gain` is nil also when the header
    /// gives 0, which header(5) reads as "uncalibrated: 200"; `gainText` keeps what the header said.
    struct Calibration {
        var gain: Double?
        var gainText: String?
        var baseline: Int?
        var units: String?
    }

    static func parseGainField(_ field: Substring?, line: Int, file: String) throws -> Calibration {
        guard var gainText = field else { return Calibration() }
        var calibration = Calibration()
        if let slash = gainText.firstIndex(of: "/") {
            let units = gainText[gainText.index(after: slash)...]
            if !units.isEmpty { calibration.units = String(units) }
            gainText = gainText[..<slash]
        }
        if let open = gainText.firstIndex(of: "(") {
            guard gainText.last == ")" else {
                throw WFDBError.invalidField(file: file, line: line, field: "baseline", value: String(gainText))
            }
            let baseText = gainText[gainText.index(after: open)..<gainText.index(before: gainText.endIndex)]
            guard let base = Int(baseText), base >= Int(Int32.min), base <= Int(Int32.max) else {
                throw WFDBError.invalidField(file: file, line: line, field: "baseline", value: String(baseText))
            }
            calibration.baseline = base
            gainText = gainText[..<open]
        }
        guard let value = Double(gainText) else {
            throw WFDBError.invalidField(file: file, line: line, field: "ADC gain", value: String(gainText))
        }
        guard value.isFinite else {
            throw WFDBError.invalidGain(file: file, line: line, value: String(gainText))
        }
        calibration.gainText = String(gainText)
        if value != 0 { calibration.gain = value }
        return calibration
    }

    /// `format[xspf][:skew][+offset]`
    static func parseFormatField(
        _ text: Substring, line: Int, file: String
    ) throws -> (SignalFormat, Int, Int, Int) {
        var rest = text
        // The suffixes come off right to left: `+offset`, then `:skew`, then `xspf`.
        func takeSuffix(_ marker: Character, field: String, range: ClosedRange<Int>) throws -> Int? {
            guard let position = rest.firstIndex(of: marker) else { return nil }
            let value = rest[rest.index(after: position)...]
            guard let parsed = Int(value), range.contains(parsed) else {
                throw WFDBError.invalidField(file: file, line: line, field: field, value: String(value))
            }
            rest = rest[..<position]
            return parsed
        }
        let offset = try takeSuffix("+", field: "byte offset", range: 0...Int.max) ?? 0
        let skew = try takeSuffix(":", field: "skew", range: 0...maxSkew) ?? 0
        let spf = try takeSuffix("x", field: "samples per frame", range: 1...maxSamplesPerFrame) ?? 1
        guard let number = Int(rest) else {
            throw WFDBError.unknownFormat(file: file, line: line, format: String(rest))
        }
        if SignalFormat.compressed.contains(number) {
            throw WFDBError.unsupportedFormat(file: file, line: line, format: number)
        }
        guard let format = SignalFormat(rawValue: number) else {
            throw WFDBError.unknownFormat(file: file, line: line, format: String(rest))
        }
        return (format, spf, skew, offset)
    }

    /// Signals sharing a file must be consecutive and agree on format and byte offset.
    static func checkGroups(_ signals: [SignalSpec], file: String) throws {
        var seen: Set<String> = []
        var previous: SignalSpec?
        for signal in signals {
            if let previous, previous.fileName == signal.fileName, signal.fileName != "~" {
                if previous.format != signal.format {
                    throw WFDBError.inconsistentSignalGroup(
                        file: file, line: signal.line,
                        reason: "signals in '\(signal.fileName)' have different formats")
                }
                if signal.byteOffset != previous.byteOffset {
                    throw WFDBError.inconsistentSignalGroup(
                        file: file, line: signal.line,
                        reason: "signals in '\(signal.fileName)' have different byte offsets")
                }
            } else if signal.fileName != "~" {
                if seen.contains(signal.fileName) {
                    throw WFDBError.inconsistentSignalGroup(
                        file: file, line: signal.line,
                        reason: "signals in '\(signal.fileName)' are not on consecutive lines")
                }
                seen.insert(signal.fileName)
            }
            previous = signal
        }
    }
}
