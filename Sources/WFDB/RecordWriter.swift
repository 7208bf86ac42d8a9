import Foundation

/// Writes WFDB records: signal files in any supported format, and their headers.
///
/// The project uses it to build test fixtures; files it writes are read back identically by this
/// library and by the WFDB tools.
public enum RecordWriter {
    /// Writes `<name>.hea` and the signal files its signal lines name, into `directory`.
    ///
    /// `samples[i]` holds signal i's digital samples, `samplesPerFrame` per frame; its length must be
    /// `frames * samplesPerFrame`. Checksums and initial values in the written header are computed
    /// from the data. Returns the header as written.
    @discardableResult
    public static func write(_ header: RecordHeader, samples: [[Int32]], directory: String) throws -> RecordHeader {
        let location = RecordLocation(directory: directory, name: header.name)
        let headerPath = location.headerPath
        guard samples.count == header.signals.count else {
            throw WFDBError.unrepresentable(
                file: headerPath, reason: "\(header.signals.count) signal lines but \(samples.count) sample arrays")
        }
        var written = header
        written.signalCount = header.signals.count
        let frames =
            header.sampleCount ?? (samples.first.map { $0.count / max(header.signals[0].samplesPerFrame, 1) } ?? 0)
        written.sampleCount = frames
        for (index, signal) in header.signals.enumerated() {
            guard signal.samplesPerFrame >= 1, signal.skew >= 0, signal.byteOffset >= 0, signal.gain != 0 else {
                throw WFDBError.unrepresentable(
                    file: headerPath, reason: "signal \(index): invalid frame layout or gain")
            }
            let (expected, overflow) = frames.multipliedReportingOverflow(by: signal.samplesPerFrame)
            guard !overflow, samples[index].count == expected else {
                throw WFDBError.unrepresentable(
                    file: headerPath,
                    reason:
                        "signal \(index): \(samples[index].count) samples for \(frames) frames of \(signal.samplesPerFrame)"
                )
            }
            if signal.format != .diff8 && signal.format != .null {
                let valid = signal.format.valueRange
                if let bad = samples[index].first(where: { !valid.contains($0) }) {
                    throw WFDBError.unrepresentable(
                        file: headerPath,
                        reason: "signal \(index): value \(bad) does not fit format \(signal.format.rawValue)")
                }
            }
            let sum = samples[index].reduce(0) { $0 &+ Int($1) }
            written.signals[index].checksum = Int(Int16(truncatingIfNeeded: sum))
            if signal.format != .diff8 {
                written.signals[index].initialValue = samples[index].first.map(Int.init) ?? signal.adcZero
            }
        }
        let groups = WFDBRecord.makeGroups(written.signals)
        for group in groups where group.fileName != "~" && group.format != .null {
            for member in group.members {
                let signal = written.signals[member]
                if signal.format != group.format || signal.byteOffset != group.byteOffset {
                    throw WFDBError.unrepresentable(
                        file: headerPath, reason: "signals in '\(group.fileName)' must share format and byte offset")
                }
            }
            let stream = try interleave(group, written: &written, samples: samples, frames: frames, file: headerPath)
            var bytes = [UInt8](repeating: 0xA5, count: group.byteOffset)
            bytes.append(contentsOf: SampleCodec.encode(group.format, stream))
            try FileAccess.write(bytes, to: location.path(for: group.fileName))
        }
        try FileAccess.write(headerBytes(written), to: headerPath)
        return written
    }

    /// The interleaved stored stream of one signal file (first differences for format 8).
    private static func interleave(
        _ group: WFDBRecord.SignalGroup, written: inout RecordHeader, samples: [[Int32]], frames: Int, file: String
    ) throws -> [Int32] {
        let members = group.members
        let maxSkew = members.map { written.signals[$0].skew }.max() ?? 0
        let storedFrames = frames > 0 ? frames + maxSkew : 0
        var stream: [Int32] = []
        stream.reserveCapacity(storedFrames * group.frameSize)
        var previous: [Int32] = []
        for member in members {
            // Format 8 starts from the initial value: the first stored sample's value (diff 0).
            let first = samples[member].first ?? 0
            previous.append(first)
            if group.format == .diff8 { written.signals[member].initialValue = Int(first) }
        }
        let fill = group.format.invalidValue ?? 0
        for frame in 0..<storedFrames {
            for (m, member) in members.enumerated() {
                let signal = written.signals[member]
                let logical = frame - signal.skew
                for sub in 0..<signal.samplesPerFrame {
                    var value: Int32
                    if logical < 0 || logical >= frames {
                        // Stored positions no logical sample maps to (the skew's lead and tail).
                        value = group.format == .diff8 ? previous[m] : fill
                    } else {
                        value = samples[member][logical * signal.samplesPerFrame + sub]
                    }
                    if group.format == .diff8 {
                        let difference = Int(value) - Int(previous[m])
                        guard (-128...127).contains(difference) else {
                            throw WFDBError.unrepresentable(
                                file: file, reason: "signal \(member): step \(difference) too large for format 8")
                        }
                        previous[m] = value
                        value = Int32(difference)
                    }
                    stream.append(value)
                }
            }
        }
        return stream
    }

    /// Writes a multi-segment master header. The segments (and a variable layout's layout record,
    /// listed first with length 0) must be written with `write` beforehand.
    public static func writeMultiSegmentHeader(
        name: String, signalCount: Int, samplingFrequency: Double, segments: [SegmentSpec], directory: String
    ) throws {
        var header = RecordHeader(
            name: name, signals: [], samplingFrequency: samplingFrequency,
            sampleCount: segments.reduce(0) { $0 + $1.sampleCount }, segments: segments, signalCount: signalCount)
        header.comments = []
        let path = RecordLocation(directory: directory, name: name).headerPath
        try FileAccess.write(Array(headerText(header).utf8), to: path)
    }

    /// The header file's bytes: `headerText` in the header's own encoding, so a Latin-1 header read in gives
    /// back its 8-bit bytes unchanged. Text that Latin-1 cannot hold is written as UTF-8.
    public static func headerBytes(_ header: RecordHeader) -> [UInt8] {
        let text = headerText(header)
        if header.textEncoding == .latin1, text.unicodeScalars.allSatisfy({ $0.value <= 0xFF }) {
            return text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
        }
        return Array(text.utf8)
    }

    /// Header text for a record (header(5)), LF line endings.
    public static func headerText(_ header: RecordHeader) -> String {
        var recordLine = header.name
        if let segments = header.segments { recordLine += "/\(segments.count)" }
        recordLine += " \(header.signalCount) \(number(header.samplingFrequency))"
        if let counter = header.counterFrequency {
            recordLine += "/\(number(counter))"
            if let base = header.baseCounter { recordLine += "(\(number(base)))" }
        }
        if let count = header.sampleCount {
            recordLine += " \(count)"
            if let time = header.baseTime {
                recordLine += " \(time)"
                if let date = header.baseDate { recordLine += " \(date)" }
            }
        }
        var lines = [recordLine]
        if let segments = header.segments {
            for segment in segments { lines.append("\(segment.name) \(segment.sampleCount)") }
        }
        for signal in header.signals {
            var format = "\(signal.format.rawValue)"
            if signal.samplesPerFrame != 1 { format += "x\(signal.samplesPerFrame)" }
            if signal.skew != 0 { format += ":\(signal.skew)" }
            if signal.byteOffset != 0 { format += "+\(signal.byteOffset)" }
            var gain = number(signal.gain)
            if signal.baseline != signal.adcZero { gain += "(\(signal.baseline))" }
            gain += "/\(signal.units)"
            var fields = [
                signal.fileName, format, gain, "\(signal.adcResolution)", "\(signal.adcZero)",
                "\(signal.initialValue)", "\(signal.checksum ?? 0)", "\(signal.blockSize)",
            ]
            if !signal.description.isEmpty { fields.append(signal.description) }
            lines.append(fields.joined(separator: " "))
        }
        for comment in header.comments { lines.append("# " + comment) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Shortest text for a number: integers without a fraction.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
