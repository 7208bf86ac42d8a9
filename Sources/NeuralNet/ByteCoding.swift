import Foundation

/// Little-endian writer into a growing byte buffer: the binary files (checkpoints, the beat dataset) are written
/// with it.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public var data: Data { Data(bytes) }

    public mutating func reserve(_ extra: Int) { bytes.reserveCapacity(bytes.count + extra) }
    public mutating func bytes(_ values: [UInt8]) { bytes.append(contentsOf: values) }
    public mutating func u16(_ value: UInt16) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    public mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    public mutating func u64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func floats(_ values: UnsafeBufferPointer<Float>) {
        #if _endian(little)
        bytes.append(contentsOf: UnsafeRawBufferPointer(values))
        #else
        for value in values { u32(value.bitPattern) }
        #endif
    }
}

/// Little-endian reader of the same files; callers check `remaining` before reading.
public struct ByteReader {
    public let data: Data
    public var offset = 0

    public init(data: Data) { self.data = data }

    public var remaining: Int { data.count - offset }

    public mutating func bytes(_ count: Int) -> [UInt8] {
        let start = data.startIndex + offset
        offset += count
        return Array(data[start..<(start + count)])
    }

    public mutating func u16() -> UInt16 { UInt16(littleEndian: load(UInt16.self)) }
    public mutating func u32() -> UInt32 { UInt32(littleEndian: load(UInt32.self)) }
    public mutating func u64() -> UInt64 { UInt64(littleEndian: load(UInt64.self)) }

    public mutating func floats(into values: inout [Float], at start: Int, count: Int) {
        guard count > 0 else { return }
        let begin = data.startIndex + offset
        _ = values.withUnsafeMutableBytes { destination in
            data.copyBytes(
                to: UnsafeMutableRawBufferPointer(rebasing: destination[(start * 4)..<((start + count) * 4)]),
                from: begin..<(begin + count * 4))
        }
        #if _endian(big)
        for index in start..<(start + count) {
            values[index] = Float(bitPattern: UInt32(littleEndian: values[index].bitPattern))
        }
        #endif
        offset += count * 4
    }

    private mutating func load<T: FixedWidthInteger>(_: T.Type) -> T {
        var value = T.zero
        let begin = data.startIndex + offset
        _ = withUnsafeMutableBytes(of: &value) { data.copyBytes(to: $0, from: begin..<(begin + MemoryLayout<T>.size)) }
        offset += MemoryLayout<T>.size
        return value
    }
}
