import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Why a checkpoint could not be read or written. Every case names the file.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened or read.
    case unreadable(file: String, reason: String)
    /// The file ends inside `section`.
    case truncated(file: String, section: String)
    /// The file does not start with "PIPECKPT".
    case wrongMagic(file: String)
    /// The file was written by a newer format version than this build reads.
    case newerVersion(file: String, found: UInt32, supported: UInt32)
    /// A count in the file disagrees with the architecture (or another count).
    case sizeMismatch(file: String, what: String, expected: Int, found: Int)
    /// A section holds a value that cannot be right (bad JSON, an all-zero RNG state, a layer that does not fit).
    case invalidContent(file: String, section: String, reason: String)
    /// The CRC-32 trailer does not match the content: the file was damaged after it was written.
    case checksumMismatch(file: String)
    /// The file could not be written.
    case writeFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason):
            return "\(file): cannot read checkpoint: \(reason)"
        case .truncated(let file, let section):
            return "\(file): checkpoint is truncated (ends inside \(section)); it was not completely written"
        case .wrongMagic(let file):
            return "\(file): not a pipe checkpoint (the file does not start with PIPECKPT)"
        case .newerVersion(let file, let found, let supported):
            return "\(file): checkpoint format version \(found) is newer than this build reads (\(supported)); "
                + "update pipe"
        case .sizeMismatch(let file, let what, let expected, let found):
            return "\(file): checkpoint \(what) holds \(found) values, the architecture needs \(expected)"
        case .invalidContent(let file, let section, let reason):
            return "\(file): checkpoint \(section) is invalid: \(reason)"
        case .checksumMismatch(let file):
            return "\(file): checkpoint checksum mismatch; the file is corrupt"
        case .writeFailed(let file, let reason):
            return "\(file): cannot write checkpoint: \(reason)"
        }
    }
}

/// Everything needed to resume training or run inference, in a versioned little-endian binary file.
///
/// Format version 1. Scalars are little-endian; `string` is a u32 byte count then UTF-8 bytes; `floats` is a
/// u64 count then that many IEEE-754 binary32 values.
///
/// | field | encoding |
/// | --- | --- |
/// | magic | 8 bytes, ASCII `PIPECKPT` |
/// | format version | u32 (1) |
/// | flags | u32, 0 (reserved) |
/// | architecture | string: JSON array of `LayerSpec` (sorted keys) |
/// | input length | u64 |
/// | feature count | u64 |
/// | class names | u32 count, then count × string |
/// | metadata | u32 count, then count × (key string, value string), sorted by key |
/// | parameters | floats, laid out by `Model.layers[i].parameters` |
/// | buffers | floats, BatchNorm running statistics laid out by `Model.layers[i].buffers` |
/// | optimizer config | string: JSON of `OptimizerConfig` (sorted keys) |
/// | optimizer step | u64, Adam's t |
/// | Adam m, Adam v | floats each, parallel to parameters |
/// | epoch | u64 (the caller's meaning, e.g. epochs completed) |
/// | RNG state | 4 × u64, `RandomGenerator.state` |
/// | training state | u64 byte count, then the caller's bytes |
/// | checksum | u32 CRC-32 (IEEE) of every byte before it |
///
/// A reader refuses a newer version; a later version may only append fields before the checksum or use the flags.
public struct Checkpoint: Equatable, Sendable {
    public static let magic: [UInt8] = Array("PIPECKPT".utf8)
    public static let formatVersion: UInt32 = 1

    public var architecture: [LayerSpec]
    public var inputLength: Int
    public var featureCount: Int
    public var classNames: [String]
    /// Free-form facts the caller needs at inference: normalisation, lead, sampling rate, …
    public var metadata: [String: String]
    public var parameters: [Float]
    public var buffers: [Float]
    public var optimizer: OptimizerConfig
    public var optimizerStep: Int
    public var adamM: [Float]
    public var adamV: [Float]
    public var epoch: Int
    public var randomState: [UInt64]
    /// Opaque bytes the training loop needs to resume (batch cursor, best score, …).
    public var trainingState: [UInt8]

    public init(
        architecture: [LayerSpec], inputLength: Int, featureCount: Int, classNames: [String],
        metadata: [String: String], parameters: [Float], buffers: [Float], optimizer: OptimizerConfig,
        optimizerStep: Int, adamM: [Float], adamV: [Float], epoch: Int, randomState: [UInt64], trainingState: [UInt8]
    ) {
        self.architecture = architecture
        self.inputLength = inputLength
        self.featureCount = featureCount
        self.classNames = classNames
        self.metadata = metadata
        self.parameters = parameters
        self.buffers = buffers
        self.optimizer = optimizer
        self.optimizerStep = optimizerStep
        self.adamM = adamM
        self.adamV = adamV
        self.epoch = epoch
        self.randomState = randomState
        self.trainingState = trainingState
    }

    // MARK: - Encoding

    /// The file's bytes.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.reserve(64 + 4 * (parameters.count * 3 + buffers.count) + trainingState.count)
        writer.bytes(Checkpoint.magic)
        writer.u32(Checkpoint.formatVersion)
        writer.u32(0)
        writer.string(Checkpoint.json(architecture))
        writer.u64(UInt64(truncatingIfNeeded: inputLength))
        writer.u64(UInt64(truncatingIfNeeded: featureCount))
        writer.u32(UInt32(classNames.count))
        for name in classNames {
            writer.string(name)
        }
        writer.u32(UInt32(metadata.count))
        for key in metadata.keys.sorted() {
            writer.string(key)
            writer.string(metadata[key] ?? "")
        }
        writer.counted(parameters)
        writer.counted(buffers)
        writer.string(Checkpoint.json(optimizer))
        writer.u64(UInt64(truncatingIfNeeded: optimizerStep))
        writer.counted(adamM)
        writer.counted(adamV)
        writer.u64(UInt64(truncatingIfNeeded: epoch))
        for word in randomState {
            writer.u64(word)
        }
        writer.u64(UInt64(trainingState.count))
        writer.bytes(trainingState)
        writer.u32(crc32(writer.bytes))
        return writer.bytes
    }

    private static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(value) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Parses checkpoint bytes; `file` names the source in errors. Checks the magic, the version, every count against
    /// the bytes left and against the architecture, and the checksum.
    public static func decode(_ bytes: [UInt8], file: String) throws -> Checkpoint {
        var reader = CheckpointReader(bytes: bytes, file: file)
        guard bytes.count >= 8 else {
            throw bytes == Array(magic.prefix(bytes.count))
                ? CheckpointError.truncated(file: file, section: "magic") : CheckpointError.wrongMagic(file: file)
        }
        guard Array(bytes[0..<8]) == magic else { throw CheckpointError.wrongMagic(file: file) }
        reader.offset = 8
        let version = try reader.u32("format version")
        guard version <= formatVersion else {
            // A flipped byte in the version field reads as a newer version. Every version ends in the CRC-32 of
            // what precedes it, so that tells a newer file from a damaged one before "update pipe" is advised.
            let end = bytes.count - 4
            let stored = bytes[end...].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard end >= 12, crc32(bytes[0..<end]) == stored else { throw CheckpointError.checksumMismatch(file: file) }
            throw CheckpointError.newerVersion(file: file, found: version, supported: formatVersion)
        }
        guard version >= 1 else {
            throw CheckpointError.invalidContent(file: file, section: "format version", reason: "version 0")
        }
        _ = try reader.u32("flags")
        let architecture: [LayerSpec] = try reader.json("architecture")
        let inputLength = try reader.count64("input length")
        let featureCount = try reader.count64("feature count")
        var classNames: [String] = []
        for _ in 0..<(try reader.count32("class names", elementSize: 4)) {
            classNames.append(try reader.string("class names"))
        }
        var metadata: [String: String] = [:]
        for _ in 0..<(try reader.count32("metadata", elementSize: 8)) {
            let key = try reader.string("metadata")
            metadata[key] = try reader.string("metadata")
        }
        let parameters = try reader.floats("parameters")
        let buffers = try reader.floats("buffers")
        let optimizer: OptimizerConfig = try reader.json("optimizer config")
        let optimizerStep = try reader.count64("optimizer step")
        let adamM = try reader.floats("Adam m")
        let adamV = try reader.floats("Adam v")
        let epoch = try reader.count64("epoch")
        var randomState: [UInt64] = []
        for _ in 0..<4 {
            randomState.append(try reader.u64("RNG state"))
        }
        let blobCount = try reader.count64("training state")
        let trainingState = try reader.raw(blobCount, "training state")
        let contentEnd = reader.offset
        let storedChecksum = try reader.u32("checksum")
        guard reader.offset == bytes.count else {
            throw CheckpointError.invalidContent(
                file: file, section: "end", reason: "\(bytes.count - reader.offset) unexpected bytes after the checksum"
            )
        }
        guard crc32(bytes[0..<contentEnd]) == storedChecksum else { throw CheckpointError.checksumMismatch(file: file) }
        let checkpoint = Checkpoint(
            architecture: architecture, inputLength: inputLength, featureCount: featureCount, classNames: classNames,
            metadata: metadata, parameters: parameters, buffers: buffers, optimizer: optimizer,
            optimizerStep: optimizerStep, adamM: adamM, adamV: adamV, epoch: epoch, randomState: randomState,
            trainingState: trainingState)
        try checkpoint.validate(file: file)
        return checkpoint
    }

    /// Checks every size against the architecture's plan, and that the epoch, step and RNG state are usable.
    public func validate(file: String) throws {
        let layers: [LayerInfo]
        do {
            layers = try Architectures.plan(
                architecture, inputLength: inputLength, featureCount: featureCount, classCount: classNames.count)
        } catch {
            throw CheckpointError.invalidContent(file: file, section: "architecture", reason: "\(error)")
        }
        let parameterCount = layers.flatMap(\.parameters).reduce(0) { $0 + $1.count }
        let bufferCount = layers.flatMap(\.buffers).reduce(0) { $0 + $1.count }
        for (what, expected, found) in [
            ("parameters", parameterCount, parameters.count), ("buffers", bufferCount, buffers.count),
            ("Adam m", parameterCount, adamM.count), ("Adam v", parameterCount, adamV.count),
        ] where expected != found {
            throw CheckpointError.sizeMismatch(file: file, what: what, expected: expected, found: found)
        }
        for (section, value) in [("epoch", epoch), ("optimizer step", optimizerStep)] where value < 0 {
            throw CheckpointError.invalidContent(file: file, section: section, reason: "\(value) is negative")
        }
        guard RandomGenerator(state: randomState) != nil else {
            throw CheckpointError.invalidContent(file: file, section: "RNG state", reason: "all words are zero")
        }
    }

    // MARK: - Files

    /// Writes the checkpoint atomically: a temporary file in the same directory, fsync, rename over `url`, fsync of
    /// the directory. A crash leaves either the previous file or the new one, never a partial file.
    /// Throws `invalidContent` or `sizeMismatch` (naming `url`) instead of writing a checkpoint that would not read back.
    public func write(to url: URL) throws {
        let path = url.path
        try validate(file: path)
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        ).path
        let bytes = encoded()
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CheckpointError.writeFailed(file: path, reason: "open \(temporary): \(errnoText())")
        }
        var failure: String?
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count, let base = raw.baseAddress {
                let written = Glibc.write(fd, base + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = "write: \(errnoText())"
                    return
                }
                offset += written
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = "fsync: \(errnoText())" }
        if close(fd) != 0 && failure == nil { failure = "close: \(errnoText())" }
        if failure == nil && rename(temporary, path) != 0 { failure = "rename: \(errnoText())" }
        if let failure {
            unlink(temporary)
            throw CheckpointError.writeFailed(file: path, reason: failure)
        }
        let directoryFD = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Reads and validates a checkpoint file.
    public static func read(from url: URL) throws -> Checkpoint {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw CheckpointError.unreadable(file: url.path, reason: error.localizedDescription)
        }
        return try decode([UInt8](data), file: url.path)
    }
}

extension Model {
    /// A checkpoint of the current state. `classNames` must hold `classCount` names.
    public func checkpoint(
        classNames: [String], metadata: [String: String] = [:], epoch: Int, trainingState: [UInt8] = []
    ) -> Checkpoint {
        let moments = optimizerMoments
        return Checkpoint(
            architecture: specs, inputLength: inputLength, featureCount: featureCount, classNames: classNames,
            metadata: metadata, parameters: parameters, buffers: buffers, optimizer: optimizer,
            optimizerStep: optimizerStep, adamM: moments.m, adamV: moments.v, epoch: epoch,
            randomState: random.state, trainingState: trainingState)
    }

    /// Rebuilds a model exactly as checkpointed: weights, running statistics, optimizer state and RNG stream.
    /// `file` names the source in errors.
    public convenience init(checkpoint: Checkpoint, file: String = "<checkpoint>") throws {
        try checkpoint.validate(file: file)
        try self.init(
            specs: checkpoint.architecture, inputLength: checkpoint.inputLength, featureCount: checkpoint.featureCount,
            classCount: checkpoint.classNames.count, seed: 0, optimizer: checkpoint.optimizer)
        try setParameters(checkpoint.parameters)
        try setBuffers(checkpoint.buffers)
        try setOptimizerState(m: checkpoint.adamM, v: checkpoint.adamV, step: checkpoint.optimizerStep)
        if let restored = RandomGenerator(state: checkpoint.randomState) {
            random = restored
        }
    }
}

// MARK: - Byte helpers

private func errnoText() -> String {
    String(cString: strerror(errno))
}

/// The checkpoint's own fields on top of the shared writer: strings and float arrays prefixed with their counts.
extension ByteWriter {
    fileprivate mutating func string(_ value: String) {
        let utf8 = Array(value.utf8)
        u32(UInt32(utf8.count))
        bytes(utf8)
    }

    fileprivate mutating func counted(_ values: [Float]) {
        u64(UInt64(values.count))
        values.withUnsafeBufferPointer { floats($0) }
    }
}

/// The shared reader with every read checked against the bytes left, failing with the section named.
private struct CheckpointReader {
    var reader: ByteReader
    let file: String

    init(bytes: [UInt8], file: String) {
        reader = ByteReader(data: Data(bytes))
        self.file = file
    }

    var offset: Int {
        get { reader.offset }
        set { reader.offset = newValue }
    }

    var remaining: Int { reader.remaining }

    private func need(_ count: Int, _ section: String) throws {
        guard count <= remaining else { throw CheckpointError.truncated(file: file, section: section) }
    }

    mutating func raw(_ count: Int, _ section: String) throws -> [UInt8] {
        try need(count, section)
        return reader.bytes(count)
    }

    mutating func u32(_ section: String) throws -> UInt32 {
        try need(4, section)
        return reader.u32()
    }

    mutating func u64(_ section: String) throws -> UInt64 {
        try need(8, section)
        return reader.u64()
    }

    /// A u64 that must fit an Int and stay below 2^40 (no real count is larger).
    mutating func count64(_ section: String) throws -> Int {
        let value = try u64(section)
        guard value < 1 << 40 else {
            throw CheckpointError.invalidContent(file: file, section: section, reason: "value \(value) is out of range")
        }
        return Int(value)
    }

    /// A u32 element count, checked against the bytes left (each element takes at least `elementSize` bytes).
    mutating func count32(_ section: String, elementSize: Int) throws -> Int {
        let count = Int(try u32(section))
        guard count * elementSize <= remaining else { throw CheckpointError.truncated(file: file, section: section) }
        return count
    }

    mutating func string(_ section: String) throws -> String {
        let count = Int(try u32(section))
        let utf8 = try raw(count, section)
        guard let text = String(validating: utf8, as: UTF8.self) else {
            throw CheckpointError.invalidContent(file: file, section: section, reason: "not UTF-8")
        }
        return text
    }

    mutating func floats(_ section: String) throws -> [Float] {
        let count = try count64(section)
        guard count <= remaining / 4 else { throw CheckpointError.truncated(file: file, section: section) }
        var values = [Float](repeating: 0, count: count)
        reader.floats(into: &values, at: 0, count: count)
        return values
    }

    mutating func json<T: Decodable>(_ section: String) throws -> T {
        let text = try string(section)
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw CheckpointError.invalidContent(file: file, section: section, reason: "\(error)")
        }
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib computes it.
func crc32<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
    }
    return crc ^ 0xFFFF_FFFF
}

private let crcTable: [UInt32] = (0..<256).map { index -> UInt32 in
    var value = UInt32(index)
    for _ in 0..<8 {
        value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1
    }
    return value
}
