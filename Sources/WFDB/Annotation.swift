import Foundation

/// One annotation of an MIT-format annotation file (annot(5)).
public struct Annotation: Equatable, Sendable {
    /// Sample number (frame) the annotation refers to.
    public var sample: Int
    /// Annotation code (`anntyp`), 1...49 for the standard table.
    public var code: Int
    public var subtype: Int = 0
    public var channel: Int = 0
    public var number: Int = 0
    /// Auxiliary text; nil when the annotation has none.
    public var aux: String?

    public init(sample: Int, code: Int, subtype: Int = 0, channel: Int = 0, number: Int = 0, aux: String? = nil) {
        self.sample = sample
        self.code = code
        self.subtype = subtype
        self.channel = channel
        self.number = number
        self.aux = aux
    }

    /// The code's mnemonic from the standard table (e.g. `N`, `V`, `+`).
    public var symbol: String { AnnotationCode.symbol(for: code) }
}

/// The standard annotation code table (ecgcodes.h).
public enum AnnotationCode {
    /// Mnemonics by code; empty for codes the standard table leaves unused.
    public static let symbols: [String] = {
        var table = Array(repeating: "", count: 64)
        let entries: [(Int, String)] = [
            (0, " "), (1, "N"), (2, "L"), (3, "R"), (4, "a"), (5, "V"), (6, "F"), (7, "J"), (8, "A"), (9, "S"),
            (10, "E"), (11, "j"), (12, "/"), (13, "Q"), (14, "~"), (16, "|"), (18, "s"), (19, "T"), (20, "*"),
            (21, "D"), (22, "\""), (23, "="), (24, "p"), (25, "B"), (26, "^"), (27, "t"), (28, "+"), (29, "u"),
            (30, "?"), (31, "!"), (32, "["), (33, "]"), (34, "e"), (35, "n"), (36, "@"), (37, "x"), (38, "f"),
            (39, "("), (40, ")"), (41, "r"),
        ]
        for (code, symbol) in entries { table[code] = symbol }
        return table
    }()

    public static func symbol(for code: Int) -> String {
        guard symbols.indices.contains(code) else { return "[\(code)]" }
        let symbol = symbols[code]
        return symbol.isEmpty ? "[\(code)]" : symbol
    }

    /// The code for a mnemonic, if the standard table has it.
    public static func code(for symbol: String) -> Int? {
        symbols.firstIndex(of: symbol).flatMap { $0 == 0 ? nil : $0 }
    }

    /// Highest code of an ordinary annotation (ACMAX).
    public static let maxCode = 49
    static let skip = 59, num = 60, sub = 61, chn = 62, aux = 63
}

/// Reads and writes MIT-format annotation files.
public enum AnnotationFile {
    /// Reads the annotation file `<record>.<annotator>`. When the record's header can be read, every annotation
    /// must lie inside the record (a corrupt SKIP can throw one far past its end).
    public static func read(record: RecordLocation, annotator: String = "atr") throws -> [Annotation] {
        let path = record.path(for: record.name + "." + annotator)
        let bytes = try FileAccess.readAll(path)
        return try parse(bytes, file: path, recordLength: annotationTimeLimit(record))
    }

    /// The first annotation time past `record`'s end, or nil when nothing bounds the times: annotation files
    /// are read without their record too (rdann does). In a multi-frequency record, an annotator may count
    /// in samples of the fastest signal (WFDB's high-resolution mode), so the limit allows for that.
    static func annotationTimeLimit(_ record: RecordLocation) -> Int? {
        guard let opened = try? WFDBRecord.open(record, allowSegments: true), opened.frameCount > 0 else {
            return nil
        }
        let (limit, overflow) = opened.frameCount.multipliedReportingOverflow(
            by: opened.signals.map(\.samplesPerFrame).max() ?? 1)
        return overflow ? nil : limit
    }

    /// Parses MIT-format annotation bytes. `file` names the file in errors. The file must end with the
    /// end-of-file word (0x0000): without it, a file cut at an even byte would pass for a whole one. With
    /// `recordLength`, an annotation at or past that sample is refused.
    public static func parse(_ bytes: [UInt8], file: String, recordLength: Int? = nil) throws -> [Annotation] {
        var result: [Annotation] = []
        // Each annotation takes at least one word, so this bounds the allocation by the real size.
        result.reserveCapacity(bytes.count / 2)
        try bytes.withUnsafeBufferPointer { buffer in
            let count = buffer.count
            var offset = 0
            var time = 0
            var number = 0
            var channel = 0
            @inline(__always) func word(at position: Int) -> Int {
                Int(buffer[position]) | Int(buffer[position + 1]) << 8
            }
            var ended = false
            while offset < count {
                guard offset + 2 <= count else {
                    throw WFDBError.truncatedAnnotationFile(
                        file: file, byteOffset: offset, reason: "file ends mid-word")
                }
                let value = word(at: offset)
                if value == 0 {  // end of file marker
                    ended = true
                    break
                }
                let code = value >> 10
                let data = value & 0x3FF
                switch code {
                case AnnotationCode.skip:
                    guard offset + 6 <= count else {
                        throw WFDBError.truncatedAnnotationFile(
                            file: file, byteOffset: offset, reason: "SKIP interval runs past the end of the file")
                    }
                    // PDP-11 long: high 16-bit word first, each word little-endian.
                    let high = word(at: offset + 2)
                    let low = word(at: offset + 4)
                    let interval = Int(Int32(bitPattern: UInt32(high << 16 | low)))
                    time += interval
                    if time < 0 {
                        throw WFDBError.invalidAnnotationTime(file: file, byteOffset: offset, time: time)
                    }
                    offset += 6
                case AnnotationCode.num, AnnotationCode.sub, AnnotationCode.chn:
                    // Modifiers of the annotation just read; NUM and CHN also carry over to those after it (the
                    // last annotation always holds the current NUM and CHN, so writing both back changes only one).
                    if code == AnnotationCode.num { number = Int(Int8(truncatingIfNeeded: data)) }
                    if code == AnnotationCode.chn { channel = Int(UInt8(truncatingIfNeeded: data)) }
                    if let last = result.indices.last {
                        result[last].number = number
                        result[last].channel = channel
                        if code == AnnotationCode.sub { result[last].subtype = Int(Int8(truncatingIfNeeded: data)) }
                    }
                    offset += 2
                case AnnotationCode.aux:
                    let padded = data + (data & 1)
                    guard offset + 2 + padded <= count else {
                        throw WFDBError.truncatedAnnotationFile(
                            file: file, byteOffset: offset, reason: "AUX of \(data) bytes runs past the end of the file"
                        )
                    }
                    let text = buffer[(offset + 2)..<(offset + 2 + data)]
                    // An empty AUX carries nothing: the annotation has no aux text.
                    if !result.isEmpty && data > 0 {
                        result[result.count - 1].aux = String(decoding: text, as: UTF8.self)
                    }
                    offset += 2 + padded
                default:
                    time += data
                    if let recordLength, time >= recordLength {
                        throw WFDBError.annotationPastRecordEnd(
                            file: file, byteOffset: offset, index: result.count, sample: time, length: recordLength)
                    }
                    result.append(Annotation(sample: time, code: code, subtype: 0, channel: channel, number: number))
                    offset += 2
                }
            }
            if !ended {
                throw WFDBError.truncatedAnnotationFile(
                    file: file, byteOffset: count, reason: "no end-of-file marker (0x0000): the file is cut short")
            }
        }
        return result
    }

    /// Encodes annotations (in non-decreasing sample order) as an MIT-format file, as `putann` does:
    /// SKIP for intervals over 1023, then the annotation word, then SUB, CHN, NUM and AUX as needed.
    public static func encode(_ annotations: [Annotation], file: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(annotations.count * 2 + 2)
        func put(_ word: Int) {
            bytes.append(UInt8(truncatingIfNeeded: word))
            bytes.append(UInt8(truncatingIfNeeded: word >> 8))
        }
        var time = 0
        var number = 0
        var channel = 0
        for (index, annotation) in annotations.enumerated() {
            guard (1...AnnotationCode.maxCode).contains(annotation.code) else {
                throw WFDBError.unrepresentable(
                    file: file, reason: "annotation \(index): code \(annotation.code) is not in 1...49")
            }
            let delta = annotation.sample - time
            guard delta >= 0 else {
                throw WFDBError.unrepresentable(
                    file: file, reason: "annotation \(index): sample \(annotation.sample) precedes the previous one")
            }
            guard (-128...127).contains(annotation.subtype), (-128...127).contains(annotation.number),
                (0...255).contains(annotation.channel)
            else {
                throw WFDBError.unrepresentable(
                    file: file, reason: "annotation \(index): subtype, num or chan out of range")
            }
            var interval = delta
            // A SKIP carries a signed 32-bit interval; longer gaps take several.
            while interval > 0x3FF {
                let step = min(interval, Int(Int32.max))
                put(AnnotationCode.skip << 10)
                put((step >> 16) & 0xFFFF)
                put(step & 0xFFFF)
                interval -= step
            }
            put(annotation.code << 10 | interval)
            if annotation.subtype != 0 { put(AnnotationCode.sub << 10 | (annotation.subtype & 0x3FF)) }
            if annotation.channel != channel { put(AnnotationCode.chn << 10 | (annotation.channel & 0x3FF)) }
            if annotation.number != number { put(AnnotationCode.num << 10 | (annotation.number & 0x3FF)) }
            if let aux = annotation.aux, !aux.isEmpty {
                let text = Array(aux.utf8)
                guard text.count <= 255 else {
                    throw WFDBError.unrepresentable(
                        file: file, reason: "annotation \(index): AUX of \(text.count) bytes exceeds 255")
                }
                put(AnnotationCode.aux << 10 | text.count)
                bytes.append(contentsOf: text)
                if text.count & 1 == 1 { bytes.append(0) }
            }
            time = annotation.sample
            number = annotation.number
            channel = annotation.channel
        }
        put(0)
        return bytes
    }

    /// Writes `<record>.<annotator>`.
    public static func write(_ annotations: [Annotation], record: RecordLocation, annotator: String = "atr") throws {
        let path = record.path(for: record.name + "." + annotator)
        try FileAccess.write(try encode(annotations, file: path), to: path)
    }
}
