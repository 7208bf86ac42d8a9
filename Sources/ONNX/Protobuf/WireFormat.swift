import Foundation

/// Protobuf wire types (https://protobuf.dev/programming-guides/encoding/).
enum WireType: UInt8 {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

/// A message that can be read from and written to the protobuf wire format.
///
/// `decodeField` handles the fields the message knows and returns false for the others, which the reader
/// then skips; encoding writes known fields in field-number order.
protocol ProtoMessage {
    static var protoName: String { get }
    init()
    mutating func decodeField(_ field: Int, _ wireType: WireType, _ reader: inout ProtoReader) throws -> Bool
    func encode(to writer: inout ProtoWriter)
}

extension ProtoMessage {
    init(decoding bytes: [UInt8]) throws {
        var reader = ProtoReader(bytes: bytes, message: Self.protoName)
        self = try reader.readMessageBody(Self.self)
    }

    func encodedBytes() -> [UInt8] {
        var writer = ProtoWriter()
        encode(to: &writer)
        return writer.bytes
    }
}

/// A bounds-checked reader over one message's bytes. Nested messages get a reader over their own slice
/// of the same array (no copy) and one more level of depth.
struct ProtoReader {
    /// Deeper nesting than this is rejected rather than recursed into (ONNX models nest about 6 deep).
    static let maximumDepth = 64

    private let bytes: [UInt8]
    private(set) var position: Int
    private let end: Int
    private let depth: Int
    /// The protobuf message being read, for error messages (`ModelProto.graph`, …).
    private let message: String

    init(bytes: [UInt8], message: String) {
        self.init(bytes: bytes, range: 0..<bytes.count, depth: 0, message: message)
    }

    private init(bytes: [UInt8], range: Range<Int>, depth: Int, message: String) {
        self.bytes = bytes
        self.position = range.lowerBound
        self.end = range.upperBound
        self.depth = depth
        self.message = message
    }

    var isAtEnd: Bool { position >= end }

    func error(_ reason: String, at offset: Int? = nil) -> ONNXError {
        .malformedProtobuf(message: message, offset: offset ?? position, reason: reason)
    }

    mutating func readVarint() throws -> UInt64 {
        let start = position
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw error("truncated varint", at: start) }
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 { throw error("varint overflows 64 bits", at: start) }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7  // the check above stops a tenth byte from continuing
        }
    }

    mutating func readTag() throws -> (field: Int, wireType: WireType) {
        let start = position
        let key = try readVarint()
        guard let wireType = WireType(rawValue: UInt8(key & 7)) else {
            throw error("invalid wire type \(key & 7)", at: start)
        }
        let field = key >> 3
        guard field > 0, field <= 536_870_911 else { throw error("invalid field number \(field)", at: start) }
        return (Int(field), wireType)
    }

    mutating func readFixed32() throws -> UInt32 { try readLittleEndian(UInt32.self, "fixed32") }

    mutating func readFixed64() throws -> UInt64 { try readLittleEndian(UInt64.self, "fixed64") }

    private mutating func readLittleEndian<Value: FixedWidthInteger>(_ type: Value.Type, _ name: String) throws -> Value
    {
        let size = Value.bitWidth / 8
        guard end - position >= size else { throw error("truncated \(name)") }
        var value: Value = 0
        for index in 0..<size { value |= Value(bytes[position + index]) << (8 * index) }
        position += size
        return value
    }

    /// Reads a length prefix and returns the range of the payload, checked against this message's end.
    mutating func readLengthDelimitedRange() throws -> Range<Int> {
        let start = position
        let length = try readVarint()
        guard length <= UInt64(end - position) else {
            throw error("length \(length) runs past the end of the message (\(end - position) bytes left)", at: start)
        }
        let range = position..<(position + Int(length))
        position = range.upperBound
        return range
    }

    mutating func readBytes() throws -> [UInt8] {
        Array(bytes[try readLengthDelimitedRange()])
    }

    mutating func readString() throws -> String {
        let start = position
        let range = try readLengthDelimitedRange()
        guard let string = String(bytes: bytes[range], encoding: .utf8) else {
            throw error("string is not valid UTF-8", at: start)
        }
        return string
    }

    mutating func readSubmessage<M: ProtoMessage>(_ type: M.Type) throws -> M {
        let range = try readLengthDelimitedRange()
        guard depth < Self.maximumDepth else { throw error("messages nested deeper than \(Self.maximumDepth)") }
        var child = ProtoReader(bytes: bytes, range: range, depth: depth + 1, message: M.protoName)
        return try child.readMessageBody(M.self)
    }

    mutating func readMessageBody<M: ProtoMessage>(_ type: M.Type) throws -> M {
        var message = M()
        while !isAtEnd {
            let start = position
            let (field, wireType) = try readTag()
            if wireType == .endGroup { throw error("unexpected end-group tag for field \(field)", at: start) }
            if try !message.decodeField(field, wireType, &self) {
                try skipField(field, wireType, groupDepth: 0)
            }
        }
        return message
    }

    /// Skips a field the message does not know; groups (wire types 3/4) are skipped to their matching end.
    mutating func skipField(_ field: Int, _ wireType: WireType, groupDepth: Int) throws {
        switch wireType {
        case .varint: _ = try readVarint()
        case .fixed64: _ = try readFixed64()
        case .fixed32: _ = try readFixed32()
        case .lengthDelimited: _ = try readLengthDelimitedRange()
        case .endGroup: throw error("unexpected end-group tag for field \(field)")
        case .startGroup:
            guard depth + groupDepth < Self.maximumDepth else {
                throw error("groups nested deeper than \(Self.maximumDepth)")
            }
            while true {
                let start = position
                guard !isAtEnd else { throw error("group for field \(field) is not closed", at: start) }
                let (innerField, innerType) = try readTag()
                if innerType == .endGroup {
                    guard innerField == field else {
                        throw error("group for field \(field) closed by end-group for field \(innerField)", at: start)
                    }
                    return
                }
                try skipField(innerField, innerType, groupDepth: groupDepth + 1)
            }
        }
    }

    func expect(_ wireType: WireType, _ expected: WireType, field: Int) throws {
        guard wireType == expected else {
            throw error("field \(field) has wire type \(wireType.rawValue), expected \(expected.rawValue)")
        }
    }

    // MARK: Typed scalars

    mutating func readInt64(_ wireType: WireType, field: Int) throws -> Int64 {
        try expect(wireType, .varint, field: field)
        return Int64(bitPattern: try readVarint())
    }

    mutating func readInt32(_ wireType: WireType, field: Int) throws -> Int32 {
        try expect(wireType, .varint, field: field)
        // int32 negatives are sign-extended to 10 bytes on the wire; keep the low 32 bits.
        return Int32(truncatingIfNeeded: Int64(bitPattern: try readVarint()))
    }

    mutating func readFloat(_ wireType: WireType, field: Int) throws -> Float {
        try expect(wireType, .fixed32, field: field)
        return Float(bitPattern: try readFixed32())
    }

    mutating func readString(_ wireType: WireType, field: Int) throws -> String {
        try expect(wireType, .lengthDelimited, field: field)
        return try readString()
    }

    mutating func readBytes(_ wireType: WireType, field: Int) throws -> [UInt8] {
        try expect(wireType, .lengthDelimited, field: field)
        return try readBytes()
    }

    mutating func readMessage<M: ProtoMessage>(_ wireType: WireType, field: Int, as type: M.Type) throws -> M {
        try expect(wireType, .lengthDelimited, field: field)
        return try readSubmessage(type)
    }

    // MARK: Repeated scalars: packed (one length-delimited run) or unpacked (one value per tag)

    mutating func appendInt64s(_ wireType: WireType, field: Int, to values: inout [Int64]) throws {
        if wireType == .lengthDelimited {
            let range = try readLengthDelimitedRange()
            var packed = ProtoReader(bytes: bytes, range: range, depth: depth, message: message)
            while !packed.isAtEnd { values.append(Int64(bitPattern: try packed.readVarint())) }
        } else {
            values.append(try readInt64(wireType, field: field))
        }
    }

    mutating func appendInt32s(_ wireType: WireType, field: Int, to values: inout [Int32]) throws {
        if wireType == .lengthDelimited {
            let range = try readLengthDelimitedRange()
            var packed = ProtoReader(bytes: bytes, range: range, depth: depth, message: message)
            while !packed.isAtEnd {
                values.append(Int32(truncatingIfNeeded: Int64(bitPattern: try packed.readVarint())))
            }
        } else {
            values.append(try readInt32(wireType, field: field))
        }
    }

    mutating func appendFloats(_ wireType: WireType, field: Int, to values: inout [Float]) throws {
        if wireType == .lengthDelimited {
            let start = position
            let range = try readLengthDelimitedRange()
            guard range.count % 4 == 0 else {
                throw error("packed floats of field \(field) have \(range.count) bytes, not a multiple of 4", at: start)
            }
            values.reserveCapacity(values.count + range.count / 4)
            var offset = range.lowerBound
            while offset < range.upperBound {
                let bits =
                    UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
                    | UInt32(bytes[offset + 3]) << 24
                values.append(Float(bitPattern: bits))
                offset += 4
            }
        } else {
            values.append(try readFloat(wireType, field: field))
        }
    }
}

/// Appends protobuf fields to a byte array. Nested messages are encoded into their own writer first so
/// their length prefix is known.
struct ProtoWriter {
    private(set) var bytes: [UInt8] = []

    mutating func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7f) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func writeTag(_ field: Int, _ wireType: WireType) {
        writeVarint(UInt64(field) << 3 | UInt64(wireType.rawValue))
    }

    mutating func writeInt64(_ field: Int, _ value: Int64) {
        writeTag(field, .varint)
        writeVarint(UInt64(bitPattern: value))
    }

    mutating func writeInt32(_ field: Int, _ value: Int32) {
        writeInt64(field, Int64(value))
    }

    mutating func writeFloat(_ field: Int, _ value: Float) {
        writeTag(field, .fixed32)
        appendFixed32(value.bitPattern)
    }

    private mutating func appendFixed32(_ bits: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: bits))
        bytes.append(UInt8(truncatingIfNeeded: bits >> 8))
        bytes.append(UInt8(truncatingIfNeeded: bits >> 16))
        bytes.append(UInt8(truncatingIfNeeded: bits >> 24))
    }

    mutating func writeBytes(_ field: Int, _ value: [UInt8]) {
        writeTag(field, .lengthDelimited)
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func writeString(_ field: Int, _ value: String) {
        writeBytes(field, Array(value.utf8))
    }

    mutating func writeMessage(_ field: Int, _ message: some ProtoMessage) {
        writeBytes(field, message.encodedBytes())
    }

    /// Writes non-empty repeated int64s packed (proto3 style; proto2 readers accept both forms).
    mutating func writePackedInt64s(_ field: Int, _ values: [Int64]) {
        guard !values.isEmpty else { return }
        var packed = ProtoWriter()
        for value in values { packed.writeVarint(UInt64(bitPattern: value)) }
        writeBytes(field, packed.bytes)
    }

    mutating func writePackedInt32s(_ field: Int, _ values: [Int32]) {
        guard !values.isEmpty else { return }
        var packed = ProtoWriter()
        for value in values { packed.writeVarint(UInt64(bitPattern: Int64(value))) }
        writeBytes(field, packed.bytes)
    }

    mutating func writePackedFloats(_ field: Int, _ values: [Float]) {
        guard !values.isEmpty else { return }
        var packed = ProtoWriter()
        packed.bytes.reserveCapacity(values.count * 4)
        for value in values { packed.appendFixed32(value.bitPattern) }
        writeBytes(field, packed.bytes)
    }
}
