import ContentStore
import ECGSignal
import Foundation
import NeuralNet

/// The labelled beats of a set of records: what `ecg.preprocess` writes and training reads.
///
/// Per-beat arrays are parallel: beat `i` has `recordIndex[i]`, `sample[i]`, `label[i]`, `rhythm[i]`,
/// `features[i*featureCount ..< (i+1)*featureCount]` and `windows[i*windowLength ..< (i+1)*windowLength]`.
public struct BeatDataset: Equatable, Sendable {
    /// One source record: its name and the lead its windows were cut from.
    public struct RecordEntry: Equatable, Sendable {
        public var name: String
        public var lead: String
        public init(name: String, lead: String) {
            self.name = name
            self.lead = lead
        }
    }

    /// Names of the per-beat features, in their stored order. RR: seconds, then unitless ratios to the local mean
    /// (the last 10 intervals). Then the beat's shape against its record's median beat (`BeatMorphology`), which
    /// carries morphology across patients. (RR relative to the record's median interval was tried and dropped: in
    /// a record whose ectopic beats are the majority, such as MIT-BIH 232, it makes them look normal.) Then the
    /// irregularity of the rhythm around the beat and its prematurity against it (`RRVariability`), which tell
    /// atrial fibrillation's irregular normal beats from premature ones. Then what precedes the QRS against the
    /// record's median beat (`AtrialActivity`): a P wave, an abnormal one, or f waves. A model takes a prefix of
    /// these (`FeatureSet`): the first 8, 12, or all 18.
    public static let featureNames =
        [
            "rr_previous", "rr_next", "rr_local_mean", "rr_previous_ratio", "rr_next_ratio",
        ] + BeatMorphology.featureNames + ["rr_spread", "rr_successive", "rr_prematurity", "rr_pause"]
        + AtrialActivity.featureNames

    public var windowLength: Int
    /// Rate of the windows' samples, Hz.
    public var samplingRate: Double
    public var normalization: BeatWindowNormalization
    public var featureCount: Int
    public var records: [RecordEntry]
    /// [count] index into `records`.
    public var recordIndex: [UInt16]
    /// [count] frame number of the beat's R peak in its record (at `samplingRate`).
    public var sample: [Int32]
    /// [count] AAMI class index, order N S V F Q.
    public var label: [UInt8]
    /// The reference rhythm labels the beats carry (`N`, `AFIB`, …), in order of first appearance.
    public var rhythmNames: [String]
    /// [count] the beat's rhythm: 0 none known, `k` for `rhythmNames[k - 1]`; may be empty when no beat has one.
    public var rhythm: [UInt8]
    /// [count × featureCount] RR features.
    public var features: [Float]
    /// [count × windowLength] normalised windows.
    public var windows: [Float]

    public var count: Int { label.count }

    public init(
        windowLength: Int, samplingRate: Double, normalization: BeatWindowNormalization,
        featureCount: Int = BeatDataset.featureNames.count, records: [RecordEntry] = []
    ) {
        self.windowLength = windowLength
        self.samplingRate = samplingRate
        self.normalization = normalization
        self.featureCount = featureCount
        self.records = records
        recordIndex = []
        sample = []
        label = []
        rhythmNames = []
        rhythm = []
        features = []
        windows = []
    }

    /// Appends one record's beats; they are tagged with the record's new index. Without `gather` only the
    /// records table, indices, samples and labels grow (a shape for streaming the rest to disk).
    public mutating func append(record: RecordEntry, beats: RecordBeats, gather: Bool = true) {
        let index = UInt16(clamping: records.count)
        records.append(record)
        recordIndex.append(contentsOf: repeatElement(index, count: beats.count))
        sample.append(contentsOf: beats.samples.map { Int32(clamping: $0) })
        label.append(contentsOf: beats.labels.map { UInt8($0?.index ?? 0) })
        rhythm.append(contentsOf: beats.rhythms.map { rhythmCode(for: $0) })
        guard gather else { return }
        features.append(contentsOf: beats.features)
        windows.append(contentsOf: beats.windows)
    }

    /// The most rhythm labels a dataset tells apart (the file keeps a beat's rhythm in one byte); later labels
    /// read as none. MIT-BIH has 15.
    public static let maximumRhythmNames = 255

    /// The code of a rhythm label, adding it to `rhythmNames` when new; 0 for "" and past the maximum.
    mutating func rhythmCode(for name: String) -> UInt8 {
        guard !name.isEmpty else { return 0 }
        if let index = rhythmNames.firstIndex(of: name) { return UInt8(index + 1) }
        guard rhythmNames.count < Self.maximumRhythmNames else { return 0 }
        rhythmNames.append(name)
        return UInt8(rhythmNames.count)
    }

    /// The rhythm label of beat `beat`; nil when none is known.
    public func rhythmName(of beat: Int) -> String? {
        let code = beat < rhythm.count ? Int(rhythm[beat]) : 0
        return code > 0 && code <= rhythmNames.count ? rhythmNames[code - 1] : nil
    }

    /// Beats per class, order N S V F Q.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: AAMIClass.allCases.count)
        for value in label where Int(value) < counts.count { counts[Int(value)] += 1 }
        return counts
    }
}

/// Problems reading a dataset file.
public enum BeatDatasetError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case notADataset(path: String)
    case newerVersion(path: String, version: UInt32)
    case truncated(path: String, expected: Int, actual: Int)
    case invalid(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "\(path): cannot read the beat dataset: \(reason)"
        case .notADataset(let path): return "\(path): not a pipe beat dataset (bad magic)"
        case .newerVersion(let path, let version):
            return
                "\(path): beat dataset format version \(version) is newer than this pipe reads (\(BeatDatasetFile.version))"
        case .truncated(let path, let expected, let actual):
            return "\(path): beat dataset is truncated: expected \(expected) bytes, found \(actual)"
        case .invalid(let path, let reason): return "\(path): invalid beat dataset: \(reason)"
        }
    }
}

/// The binary file format of a `BeatDataset` (little-endian throughout).
///
/// ```
/// header
///   magic            8 bytes  "PIPEBEAT"
///   version          u32      2 (version 1, without the rhythm table, is still read: no beat has a rhythm)
///   beat count       u32
///   window length    u32
///   feature count    u32      18 (BeatDataset.featureNames: rr_previous, rr_next, rr_local_mean,
///                             rr_previous_ratio, rr_next_ratio, template_correlation,
///                             qrs_template_correlation, amplitude_to_record, rr_spread, rr_successive,
///                             rr_prematurity, rr_pause, p_correlation, p_energy_share, p_peak,
///                             p_residual, p_local_correlation, p_local_peak; files of 12 are read
///                             as they are: a model takes a prefix)
///   class count      u32      5 (N S V F Q, in that order)
///   record count     u32
///   normalization    u8       0 none, 1 minmax, 2 zscore
///   reserved         3 bytes  zero
///   sampling rate    f64      Hz
/// records (record count times)
///   name length u8, name (UTF-8), lead length u8, lead (UTF-8)
/// rhythms (version 2)
///   rhythm count u8, then that many times: label length u8, label (UTF-8)
/// beats (beat count times, fixed stride 8 + 4 × feature count + 4 × window length)
///   record index     u16      into the records table
///   class            u8       index in N S V F Q
///   rhythm           u8       0 none known, k the k-th rhythm label (version 1: reserved, zero)
///   sample           i32      R-peak frame number in the record
///   features         f32 × feature count
///   window           f32 × window length
/// ```
public enum BeatDatasetFile {
    public static let magic = Array("PIPEBEAT".utf8)
    public static let version: UInt32 = 2
    static let headerSize = 8 + 4 * 6 + 4 + 8

    public static func encode(_ dataset: BeatDataset) -> Data {
        var out = header(dataset, count: dataset.count)
        out.reserve(dataset.count * beatStride(dataset))
        dataset.features.withUnsafeBufferPointer { features in
            dataset.windows.withUnsafeBufferPointer { windows in
                for beat in 0..<dataset.count {
                    out.beat(
                        record: dataset.recordIndex[beat], label: dataset.label[beat],
                        rhythm: beat < dataset.rhythm.count ? dataset.rhythm[beat] : 0,
                        sample: dataset.sample[beat],
                        features: UnsafeBufferPointer(
                            rebasing: features[(beat * dataset.featureCount)...].prefix(dataset.featureCount)),
                        window: UnsafeBufferPointer(
                            rebasing: windows[(beat * dataset.windowLength)...].prefix(dataset.windowLength)))
                }
            }
        }
        return out.data
    }

    public static func write(_ dataset: BeatDataset, to url: URL) throws {
        try AtomicFile.write(encode(dataset), to: url)
    }

    /// Writes the beats of `parts` (record `i` of `shape.records` gave `parts[i]`) without first gathering them
    /// into one dataset: the file is streamed record by record, so memory holds one record's rows at a time.
    public static func write(shape: BeatDataset, parts: [RecordBeats], to url: URL) throws {
        try AtomicFile.write(to: url) { sink in try write(shape: shape, parts: parts, into: sink) }
    }

    /// Streams the file's bytes (as `write(shape:parts:to:)` lays them out) through an atomic file's sink.
    public static func write(shape: BeatDataset, parts: [RecordBeats], into sink: AtomicFile.Sink) throws {
        precondition(shape.records.count == parts.count)
        precondition(shape.rhythm.count == parts.reduce(0) { $0 + $1.count })
        let count = parts.reduce(0) { $0 + $1.count }
        var first = 0  // the part's first beat in the shape
        let head = header(shape, count: count)
        try head.bytes.withUnsafeBytes { try sink.write($0) }
        for (index, part) in parts.enumerated() {
            var rows = ByteWriter()
            rows.reserve(part.count * beatStride(shape))
            part.features.withUnsafeBufferPointer { features in
                part.windows.withUnsafeBufferPointer { windows in
                    for beat in 0..<part.count {
                        rows.beat(
                            record: UInt16(clamping: index), label: UInt8(part.labels[beat]?.index ?? 0),
                            rhythm: shape.rhythm[first + beat], sample: Int32(clamping: part.samples[beat]),
                            features: UnsafeBufferPointer(
                                rebasing: features[(beat * shape.featureCount)...].prefix(shape.featureCount)),
                            window: UnsafeBufferPointer(
                                rebasing: windows[(beat * shape.windowLength)...].prefix(shape.windowLength)))
                    }
                }
            }
            try rows.bytes.withUnsafeBytes { try sink.write($0) }
            first += part.count
        }
    }

    /// The header and record table of `dataset`, announcing `count` beats.
    static func header(_ dataset: BeatDataset, count: Int) -> ByteWriter {
        var out = ByteWriter()
        out.bytes(magic)
        out.u32(version)
        out.u32(UInt32(count))
        out.u32(UInt32(dataset.windowLength))
        out.u32(UInt32(dataset.featureCount))
        out.u32(UInt32(AAMIClass.allCases.count))
        out.u32(UInt32(dataset.records.count))
        out.bytes([normalizationCode(dataset.normalization), 0, 0, 0])
        out.u64(dataset.samplingRate.bitPattern)
        for record in dataset.records {
            for text in [record.name, record.lead] {
                let bytes = Array(text.utf8.prefix(255))
                out.bytes([UInt8(bytes.count)])
                out.bytes(bytes)
            }
        }
        out.bytes([UInt8(dataset.rhythmNames.count)])
        for name in dataset.rhythmNames {
            let bytes = Array(name.utf8.prefix(255))
            out.bytes([UInt8(bytes.count)])
            out.bytes(bytes)
        }
        return out
    }

    public static func read(_ url: URL) throws -> BeatDataset {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw BeatDatasetError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        return try decode(data, path: url.path)
    }

    public static func decode(_ data: Data, path: String) throws -> BeatDataset {
        var input = ByteReader(data: data)
        guard data.count >= magic.count, Array(data.prefix(magic.count)) == magic else {
            throw BeatDatasetError.notADataset(path: path)
        }
        guard data.count >= headerSize else {
            throw BeatDatasetError.truncated(path: path, expected: headerSize, actual: data.count)
        }
        input.offset = magic.count
        let fileVersion = input.u32()
        guard fileVersion <= version else { throw BeatDatasetError.newerVersion(path: path, version: fileVersion) }
        guard fileVersion == version || fileVersion == 1 else {
            throw BeatDatasetError.invalid(path: path, reason: "unknown format version \(fileVersion)")
        }
        let count = Int(input.u32())
        let windowLength = Int(input.u32())
        let featureCount = Int(input.u32())
        let classCount = Int(input.u32())
        let recordCount = Int(input.u32())
        let normalizationByte = input.bytes(4)[0]
        let samplingRate = Double(bitPattern: input.u64())
        guard classCount == AAMIClass.allCases.count else {
            throw BeatDatasetError.invalid(path: path, reason: "\(classCount) classes, expected 5 (N S V F Q)")
        }
        guard let normalization = normalization(code: normalizationByte) else {
            throw BeatDatasetError.invalid(path: path, reason: "unknown normalization code \(normalizationByte)")
        }
        guard windowLength > 0, windowLength <= 1 << 20, featureCount <= 1 << 10,
            samplingRate.isFinite, samplingRate > 0
        else {
            throw BeatDatasetError.invalid(
                path: path,
                reason: "window length \(windowLength), \(featureCount) features at \(samplingRate) Hz")
        }
        var dataset = BeatDataset(
            windowLength: windowLength, samplingRate: samplingRate, normalization: normalization,
            featureCount: featureCount)
        /// A length-prefixed UTF-8 text of the header's tables.
        func text() throws -> String {
            guard input.remaining >= 1 else {
                throw BeatDatasetError.truncated(path: path, expected: input.offset + 1, actual: data.count)
            }
            let length = Int(input.bytes(1)[0])
            guard input.remaining >= length else {
                throw BeatDatasetError.truncated(path: path, expected: input.offset + length, actual: data.count)
            }
            return String(decoding: input.bytes(length), as: UTF8.self)
        }
        for _ in 0..<recordCount {
            let name = try text()
            dataset.records.append(BeatDataset.RecordEntry(name: name, lead: try text()))
        }
        if fileVersion >= 2 {
            guard input.remaining >= 1 else {
                throw BeatDatasetError.truncated(path: path, expected: input.offset + 1, actual: data.count)
            }
            let rhythmCount = Int(input.bytes(1)[0])
            for _ in 0..<rhythmCount { dataset.rhythmNames.append(try text()) }
        }
        let stride = beatStride(dataset)
        let (needed, overflow) = count.multipliedReportingOverflow(by: stride)
        guard !overflow, input.remaining >= needed else {
            throw BeatDatasetError.truncated(
                path: path, expected: overflow ? Int.max : input.offset + needed, actual: data.count)
        }
        guard input.remaining == needed else {
            throw BeatDatasetError.invalid(path: path, reason: "\(input.remaining - needed) trailing bytes")
        }
        dataset.recordIndex.reserveCapacity(count)
        dataset.sample.reserveCapacity(count)
        dataset.label.reserveCapacity(count)
        dataset.rhythm.reserveCapacity(count)
        dataset.features = [Float](repeating: 0, count: count * featureCount)
        dataset.windows = [Float](repeating: 0, count: count * windowLength)
        for beat in 0..<count {
            let record = input.u16()
            let codes = input.bytes(2)
            let classByte = codes[0]
            let rhythmByte = fileVersion >= 2 ? codes[1] : 0
            guard Int(record) < recordCount else {
                throw BeatDatasetError.invalid(
                    path: path, reason: "beat \(beat) names record \(record) of \(recordCount)")
            }
            guard Int(classByte) < classCount else {
                throw BeatDatasetError.invalid(path: path, reason: "beat \(beat) has class \(classByte)")
            }
            guard Int(rhythmByte) <= dataset.rhythmNames.count else {
                throw BeatDatasetError.invalid(
                    path: path, reason: "beat \(beat) has rhythm \(rhythmByte) of \(dataset.rhythmNames.count)")
            }
            dataset.recordIndex.append(record)
            dataset.label.append(classByte)
            dataset.rhythm.append(rhythmByte)
            dataset.sample.append(Int32(bitPattern: input.u32()))
            input.floats(into: &dataset.features, at: beat * featureCount, count: featureCount)
            input.floats(into: &dataset.windows, at: beat * windowLength, count: windowLength)
        }
        return dataset
    }

    static func beatStride(_ dataset: BeatDataset) -> Int { 8 + 4 * dataset.featureCount + 4 * dataset.windowLength }

    static func normalizationCode(_ normalization: BeatWindowNormalization) -> UInt8 {
        switch normalization {
        case .none: return 0
        case .minMax: return 1
        case .zScore: return 2
        }
    }

    static func normalization(code: UInt8) -> BeatWindowNormalization? {
        switch code {
        case 0: return BeatWindowNormalization.none
        case 1: return .minMax
        case 2: return .zScore
        default: return nil
        }
    }
}

extension ByteWriter {
    /// One beat row: record index, class, rhythm, sample, features, window.
    mutating func beat(
        record: UInt16, label: UInt8, rhythm: UInt8, sample: Int32, features: UnsafeBufferPointer<Float>,
        window: UnsafeBufferPointer<Float>
    ) {
        u16(record)
        bytes([label, rhythm])
        u32(UInt32(bitPattern: sample))
        floats(features)
        floats(window)
    }
}
