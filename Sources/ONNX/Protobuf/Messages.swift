import Foundation

// The subset of onnx.proto (ONNX IR, proto2 syntax) this library reads and writes. Field numbers follow
// onnx.proto; fields not listed here are skipped when decoding and never written. Singular fields whose
// presence matters (an attribute's value, a dimension's value, an opset version) are written even when
// they hold their default.

/// `ModelProto`: the top-level ONNX file.
public struct ModelProto: Equatable, Sendable {
    public var irVersion: Int64 = 0  // 1
    public var opsetImport: [OperatorSetIdProto] = []  // 8
    public var producerName = ""  // 2
    public var producerVersion = ""  // 3
    public var domain = ""  // 4
    public var modelVersion: Int64 = 0  // 5
    public var docString = ""  // 6
    public var graph: GraphProto?  // 7
    public var metadataProps: [StringStringEntryProto] = []  // 14

    public init() {}

    /// Decodes a serialized model; throws `ONNXError.malformedProtobuf` on any wire-level problem.
    public init(serializedData data: Data) throws {
        try self.init(decoding: [UInt8](data))
    }

    public func serializedData() -> Data {
        Data(encodedBytes())
    }
}

/// `OperatorSetIdProto`: an operator set (domain "" is the default ONNX domain) and its version.
public struct OperatorSetIdProto: Equatable, Sendable {
    public var domain = ""  // 1
    public var version: Int64 = 0  // 2

    public init() {}

    public init(domain: String, version: Int64) {
        self.domain = domain
        self.version = version
    }
}

/// `StringStringEntryProto`: one key/value pair of `metadata_props`.
public struct StringStringEntryProto: Equatable, Sendable {
    public var key = ""  // 1
    public var value = ""  // 2

    public init() {}

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// `GraphProto`: nodes in order, constant initializers, and the typed graph inputs and outputs.
public struct GraphProto: Equatable, Sendable {
    public var node: [NodeProto] = []  // 1
    public var name = ""  // 2
    public var initializer: [TensorProto] = []  // 5
    public var docString = ""  // 10
    public var input: [ValueInfoProto] = []  // 11
    public var output: [ValueInfoProto] = []  // 12
    public var valueInfo: [ValueInfoProto] = []  // 13

    public init() {}
}

/// `NodeProto`: one operator application.
public struct NodeProto: Equatable, Sendable {
    public var input: [String] = []  // 1
    public var output: [String] = []  // 2
    public var name = ""  // 3
    public var opType = ""  // 4
    public var domain = ""  // 7
    public var attribute: [AttributeProto] = []  // 5
    public var docString = ""  // 6

    public init() {}
}

/// `AttributeProto`: a named attribute; `type` says which value field is meaningful.
public struct AttributeProto: Equatable, Sendable {
    /// `AttributeProto.AttributeType` values this library reads or writes.
    public enum AttributeType: Int32, Sendable {
        case undefined = 0
        case float = 1
        case int = 2
        case string = 3
        case tensor = 4
        case graph = 5
        case floats = 6
        case ints = 7
        case strings = 8
        case tensors = 9
        case graphs = 10
    }

    public var name = ""  // 1
    public var type: Int32 = 0  // 20
    public var f: Float = 0  // 2
    public var i: Int64 = 0  // 3
    public var s: [UInt8] = []  // 4
    public var t: TensorProto?  // 5
    public var floats: [Float] = []  // 7
    public var ints: [Int64] = []  // 8
    public var strings: [[UInt8]] = []  // 9
    public var docString = ""  // 13

    public init() {}

    public static func float(_ name: String, _ value: Float) -> AttributeProto {
        var attribute = AttributeProto(name: name, type: .float)
        attribute.f = value
        return attribute
    }

    public static func int(_ name: String, _ value: Int64) -> AttributeProto {
        var attribute = AttributeProto(name: name, type: .int)
        attribute.i = value
        return attribute
    }

    public static func string(_ name: String, _ value: String) -> AttributeProto {
        var attribute = AttributeProto(name: name, type: .string)
        attribute.s = Array(value.utf8)
        return attribute
    }

    public static func tensor(_ name: String, _ value: TensorProto) -> AttributeProto {
        var attribute = AttributeProto(name: name, type: .tensor)
        attribute.t = value
        return attribute
    }

    public static func floats(_ name: String, _ values: [Float]) -> AttributeProto {
        var attribute = AttributeProto(name: name, type: .floats)
        attribute.floats = values
        return attribute
    }

    public static func ints(_ name: String, _ values: [Int64]) -> AttributeProto {
        var attribute = AttributeProto(name: name, type: .ints)
        attribute.ints = values
        return attribute
    }

    public static func int(_ name: String, _ value: Int) -> AttributeProto {
        int(name, Int64(value))
    }

    public static func ints(_ name: String, _ values: [Int]) -> AttributeProto {
        ints(name, values.map { Int64($0) })
    }

    public static func strings(_ name: String, _ values: [String]) -> AttributeProto {
        var attribute = AttributeProto(name: name, type: .strings)
        attribute.strings = values.map { Array($0.utf8) }
        return attribute
    }

    private init(name: String, type: AttributeType) {
        self.name = name
        self.type = type.rawValue
    }
}

/// `TensorProto`: a constant tensor. Data sits in exactly one of the typed fields or in `rawData`
/// (little-endian).
public struct TensorProto: Equatable, Sendable {
    /// `TensorProto.DataType` values this runtime computes with; others are decoded but rejected by the
    /// loader.
    public enum DataType: Int32, Sendable {
        case float = 1
        case int32 = 6
        case int64 = 7
    }

    public var dims: [Int64] = []  // 1
    public var dataType: Int32 = 0  // 2
    public var floatData: [Float] = []  // 4
    public var int32Data: [Int32] = []  // 5
    public var int64Data: [Int64] = []  // 7
    public var name = ""  // 8
    public var rawData: [UInt8] = []  // 9
    public var docString = ""  // 12
    /// `external_data` (13): tensors stored in a side file; recorded only so the loader can reject them.
    public var externalData: [StringStringEntryProto] = []
    /// `data_location` (14): 1 = EXTERNAL.
    public var dataLocation: Int32 = 0

    public init() {}
}

/// `ValueInfoProto`: a named value with its type.
public struct ValueInfoProto: Equatable, Sendable {
    public var name = ""  // 1
    public var type: TypeProto?  // 2
    public var docString = ""  // 3

    public init() {}
}

/// `TypeProto`: only the tensor arm (`tensor_type`, field 1) is modelled; other arms are skipped, which
/// leaves `tensorType` nil.
public struct TypeProto: Equatable, Sendable {
    /// `TypeProto.Tensor`.
    public struct Tensor: Equatable, Sendable {
        public var elemType: Int32 = 0  // 1
        public var shape: TensorShapeProto?  // 2

        public init() {}
    }

    public var tensorType: Tensor?  // 1
    public var denotation = ""  // 6

    public init() {}
}

/// `TensorShapeProto`: dimensions, each a number, a symbolic name, or unknown.
public struct TensorShapeProto: Equatable, Sendable {
    /// `TensorShapeProto.Dimension`; `dim_value` and `dim_param` form a oneof.
    public enum Dimension: Equatable, Sendable {
        case value(Int64)  // 1
        case param(String)  // 2
        case unknown
    }

    public var dim: [Dimension] = []  // 1

    public init() {}

    public init(dim: [Dimension]) {
        self.dim = dim
    }
}

// MARK: - Wire coding

extension ModelProto: ProtoMessage {
    static let protoName = "ModelProto"

    mutating func decodeField(_ field: Int, _ wireType: WireType, _ reader: inout ProtoReader) throws -> Bool {
        switch field {
        case 1: irVersion = try reader.readInt64(wireType, field: field)
        case 2: producerName = try reader.readString(wireType, field: field)
        case 3: producerVersion = try reader.readString(wireType, field: field)
        case 4: domain = try reader.readString(wireType, field: field)
        case 5: modelVersion = try reader.readInt64(wireType, field: field)
        case 6: docString = try reader.readString(wireType, field: field)
        case 7: graph = try reader.readMessage(wireType, field: field, as: GraphProto.self)
        case 8: opsetImport.append(try reader.readMessage(wireType, field: field, as: OperatorSetIdProto.self))
        case 14:
            metadataProps.append(try reader.readMessage(wireType, field: field, as: StringStringEntryProto.self))
        default: return false
        }
        return true
    }

    func encode(to writer: inout ProtoWriter) {
        writer.writeInt64(1, irVersion)
        if !producerName.isEmpty { writer.writeString(2, producerName) }
        if !producerVersion.isEmpty { writer.writeString(3, producerVersion) }
        if !domain.isEmpty { writer.writeString(4, domain) }
        if modelVersion != 0 { writer.writeInt64(5, modelVersion) }
        if !docString.isEmpty { writer.writeString(6, docString) }
        if let graph { writer.writeMessage(7, graph) }
        for opset in opsetImport { writer.writeMessage(8, opset) }
        for entry in metadataProps { writer.writeMessage(14, entry) }
    }
}

extension OperatorSetIdProto: ProtoMessage {
    static let protoName = "OperatorSetIdProto"

    mutating func decodeField(_ field: Int, _ wireType: WireType, _ reader: inout ProtoReader) throws -> Bool {
        switch field {
        case 1: domain = try reader.readString(wireType, field: field)
        case 2: version = try reader.readInt64(wireType, field: field)
        default: return false
        }
        return true
    }

    func encode(to writer: inout ProtoWriter) {
        if !domain.isEmpty { writer.writeString(1, domain) }
        writer.writeInt64(2, version)
    }
}

extension StringStringEntryProto: ProtoMessage {
    static let protoName = "StringStringEntryProto"

    mutating func decodeField(_ field: Int, _ wireType: WireType, _ reader: inout ProtoReader) throws -> Bool {
        switch field {
        case 1: key = try reader.readString(wireType, field: field)
        case 2: value = try reader.readString(wireType, field: field)
        default: return false
        }
        return true
    }

    func encode(to writer: inout ProtoWriter) {
        writer.writeString(1, key)
        writer.writeString(2, value)
    }
}

extension GraphProto: ProtoMessage {
    static let protoName = "GraphProto"

    mutating func decodeField(_ field: Int, _ wireType: WireType, _ reader: inout ProtoReader) throws -> Bool {
        switch field {
        case 1: node.append(try reader.readMessage(wireType, field: field, as: NodeProto.self))
        case 2: name = try reader.readString(wireType, field: field)
        case 5: initializer.append(try reader.readMessage(wireType, field: field, as: TensorProto.self))
        case 10: docString = try reader.readString(wireType, field: field)
        case 11: input.append(try reader.readMessage(wireType, field: field, as: ValueInfoProto.self))
        case 12: output.append(try reader.readMessage(wireType, field: field, as: ValueInfoProto.self))
        case 13: valueInfo.append(try reader.readMessage(wireType, field: field, as: ValueInfoProto.self))
        default: return false
        }
        return true
    }

    func encode(to writer: inout ProtoWriter) {
        for node in node { writer.writeMessage(1, node) }
        if !name.isEmpty { writer.writeString(2, name) }
        for tensor in initializer { writer.writeMessage(5, tensor) }
        if !docString.isEmpty { writer.writeString(10, docString) }
        for value in input { writer.writeMessage(11, value) }
        for value in output { writer.writeMessage(12, value) }
        for value in valueInfo { writer.writeMessage(13, value) }
    }
}

extension NodeProto: ProtoMessage {
    static let protoName = "NodeProto"

    mutating func decodeField(_ field: Int, _ wireType: WireType, _ reader: inout ProtoReader) throws -> Bool {
        switch field {
        case 1: input.append(try reader.readString(wireType, field: field))
        case 2: output.append(try reader.readString(wireType, field: field))
        case 3: name = try reader.readString(wireType, field: field)
        case 4: opType = try reader.readString(wireType, field: field)
        case 5: attribute.append(try reader.readMessage(wireType, field: field, as: AttributeProto.self))
        case 6: docString = try reader.readString(wireType, field: field)
        case 7: domain = try reader.readString(wireType, field: field)
        default: return false
        }
        return true
    }

    func encode(to writer: inout ProtoWriter) {
        for name in input { writer.writeString(1, name) }
        for name in output { writer.writeString(2, name) }
        if !name.isEmpty { writer.writeString(3, name) }
        writer.writeString(4, opType)
        for attribute in attribute { writer.writeMessage(5, attribute) }
        if !docString.isEmpty { writer.writeString(6, docString) }
        if !domain.isEmpty { writer.writeString(7, domain) }
    }
}

extension AttributeProto: ProtoMessage {
    static let protoName = "AttributeProto"

    mutating func decodeField(_ field: Int, _ wireType: WireType, _ reader: inout ProtoReader) throws -> Bool {
        switch field {
        case 1: name = try reader.readString(wireType, field: field)
        case 2: f = try reader.readFloat(wireType, field: field)
        case 3: i = try reader.readInt64(wireType, field: field)
        case 4: s = try reader.readBytes(wireType, field: field)
        case 5: t = try reader.readMessage(wireType, field: field, as: TensorProto.self)
        case 7: try reader.appendFloats(wireType, field: field, to: &floats)
        case 8: try reader.appendInt64s(wireType, field: field, to: &ints)
        case 9: strings.append(try reader.readBytes(wireType, field: field))
        case 13: docString = try reader.readString(wireType, field: field)
        case 20: type = try reader.readInt32(wireType, field: field)
        default: return false
        }
        return true
    }

    func encode(to writer: inout ProtoWriter) {
        writer.writeString(1, name)
        let kind = AttributeType(rawValue: type)
        if kind == .float || f != 0 { writer.writeFloat(2, f) }
        if kind == .int || i != 0 { writer.writeInt64(3, i) }
        if kind == .string || !s.isEmpty { writer.writeBytes(4, s) }
        if let t { writer.writeMessage(5, t) }
        // floats/ints are plain (unpacked) repeated fields in onnx.proto; packed is accepted by every
        // proto2 parser and is smaller.
        writer.writePackedFloats(7, floats)
        writer.writePackedInt64s(8, ints)
        for string in strings { writer.writeBytes(9, string) }
        if !docString.isEmpty { writer.writeString(13, docString) }
        writer.writeInt32(20, type)
    }
}

extension TensorProto: ProtoMessage {
    static let protoName = "TensorProto"

    mutating func decodeField(_ field: Int, _ wireType: WireType, _ reader: inout ProtoReader) throws -> Bool {
        switch field {
        case 1: try reader.appendInt64s(wireType, field: field, to: &dims)
        case 2: dataType = try reader.readInt32(wireType, field: field)
        case 4: try reader.appendFloats(wireType, field: field, to: &floatData)
        case 5: try reader.appendInt32s(wireType, field: field, to: &int32Data)
        case 7: try reader.appendInt64s(wireType, field: field, to: &int64Data)
        case 8: name = try reader.readString(wireType, field: field)
        case 9: rawData = try reader.readBytes(wireType, field: field)
        case 12: docString = try reader.readString(wireType, field: field)
        case 13:
            externalData.append(try reader.readMessage(wireType, field: field, as: StringStringEntryProto.self))
        case 14: dataLocation = try reader.readInt32(wireType, field: field)
        default: return false
        }
        return true
    }

    func encode(to writer: inout ProtoWriter) {
        writer.writePackedInt64s(1, dims)
        writer.writeInt32(2, dataType)
        writer.writePackedFloats(4, floatData)
        writer.writePackedInt32s(5, int32Data)
        writer.writePackedInt64s(7, int64Data)
        if !name.isEmpty { writer.writeString(8, name) }
        if !rawData.isEmpty { writer.writeBytes(9, rawData) }
        if !docString.isEmpty { writer.writeString(12, docString) }
        for entry in externalData { writer.writeMessage(13, entry) }
        if dataLocation != 0 { writer.writeInt32(14, dataLocation) }
    }
}

extension ValueInfoProto: ProtoMessage {
    static let protoName = "ValueInfoProto"

    mutating func decodeField(_ field: Int, _ wireType: WireType, _ reader: inout ProtoReader) throws -> Bool {
        switch field {
        case 1: name = try reader.readString(wireType, field: field)
        case 2: type = try reader.readMessage(wireType, field: field, as: TypeProto.self)
        case 3: docString = try reader.readString(wireType, field: field)
        default: return false
        }
        return true
    }

    func encode(to writer: inout ProtoWriter) {
        writer.writeString(1, name)
        if let type { writer.writeMessage(2, type) }
        if !docString.isEmpty { writer.writeString(3, docString) }
    }
}

extension TypeProto: ProtoMessage {
    static let protoName = "TypeProto"

    mutating func decodeField(_ field: Int, _ wireType: WireType, _ reader: inout ProtoReader) throws -> Bool {
        switch field {
        case 1: tensorType = try reader.readMessage(wireType, field: field, as: Tensor.self)
        case 6: denotation = try reader.readString(wireType, field: field)
        default: return false
        }
        return true
    }

    func encode(to writer: inout ProtoWriter) {
        if let tensorType { writer.writeMessage(1, tensorType) }
        if !denotation.isEmpty { writer.writeString(6, denotation) }
    }
}

extension TypeProto.Tensor: ProtoMessage {
    static let protoName = "TypeProto.Tensor"

    mutating func decodeField(_ field: Int, _ wireType: WireType, _ reader: inout ProtoReader) throws -> Bool {
        switch field {
        case 1: elemType = try reader.readInt32(wireType, field: field)
        case 2: shape = try reader.readMessage(wireType, field: field, as: TensorShapeProto.self)
        default: return false
        }
        return true
    }

    func encode(to writer: inout ProtoWriter) {
        writer.writeInt32(1, elemType)
        if let shape { writer.writeMessage(2, shape) }
    }
}

extension TensorShapeProto: ProtoMessage {
    static let protoName = "TensorShapeProto"

    mutating func decodeField(_ field: Int, _ wireType: WireType, _ reader: inout ProtoReader) throws -> Bool {
        guard field == 1 else { return false }
        dim.append(try reader.readMessage(wireType, field: field, as: DimensionMessage.self).dimension)
        return true
    }

    func encode(to writer: inout ProtoWriter) {
        for dimension in dim { writer.writeMessage(1, DimensionMessage(dimension: dimension)) }
    }
}

/// The wire form of `TensorShapeProto.Dimension` (a message with a oneof), kept apart so the public type can
/// be a plain enum.
private struct DimensionMessage: ProtoMessage {
    static let protoName = "TensorShapeProto.Dimension"
    var dimension: TensorShapeProto.Dimension = .unknown

    init() {}

    init(dimension: TensorShapeProto.Dimension) {
        self.dimension = dimension
    }

    mutating func decodeField(_ field: Int, _ wireType: WireType, _ reader: inout ProtoReader) throws -> Bool {
        switch field {
        case 1: dimension = .value(try reader.readInt64(wireType, field: field))
        case 2: dimension = .param(try reader.readString(wireType, field: field))
        default: return false  // denotation (3) and anything newer
        }
        return true
    }

    func encode(to writer: inout ProtoWriter) {
        switch dimension {
        case .value(let value): writer.writeInt64(1, value)
        case .param(let name): writer.writeString(2, name)
        case .unknown: break
        }
    }
}
