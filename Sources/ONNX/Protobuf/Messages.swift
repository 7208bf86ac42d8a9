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

// MARK: - Wire coding: one row per field, in field-number order (the order they are written in)

extension ModelProto: TableCodedMessage {
    static let protoName = "ModelProto"
    static let fields: [ProtoField<Self>] = [
        .int64(1, \.irVersion, .always),
        .string(2, \.producerName),
        .string(3, \.producerVersion),
        .string(4, \.domain),
        .int64(5, \.modelVersion),
        .string(6, \.docString),
        .message(7, \.graph),
        .repeated(8, \.opsetImport),
        .repeated(14, \.metadataProps),
    ]
}

extension OperatorSetIdProto: TableCodedMessage {
    static let protoName = "OperatorSetIdProto"
    static let fields: [ProtoField<Self>] = [.string(1, \.domain), .int64(2, \.version, .always)]
}

extension StringStringEntryProto: TableCodedMessage {
    static let protoName = "StringStringEntryProto"
    static let fields: [ProtoField<Self>] = [.string(1, \.key, .always), .string(2, \.value, .always)]
}

extension GraphProto: TableCodedMessage {
    static let protoName = "GraphProto"
    static let fields: [ProtoField<Self>] = [
        .repeated(1, \.node),
        .string(2, \.name),
        .repeated(5, \.initializer),
        .string(10, \.docString),
        .repeated(11, \.input),
        .repeated(12, \.output),
        .repeated(13, \.valueInfo),
    ]
}

extension NodeProto: TableCodedMessage {
    static let protoName = "NodeProto"
    static let fields: [ProtoField<Self>] = [
        .repeated(1, \.input),
        .repeated(2, \.output),
        .string(3, \.name),
        .string(4, \.opType, .always),
        .repeated(5, \.attribute),
        .string(6, \.docString),
        .string(7, \.domain),
    ]
}

extension AttributeProto: TableCodedMessage {
    static let protoName = "AttributeProto"
    // The value field the type names is written even when it holds the default (an `alpha` of 0).
    static let fields: [ProtoField<Self>] = [
        .string(1, \.name, .always),
        .float(2, \.f, .alsoWhen { $0.type == AttributeType.float.rawValue }),
        .int64(3, \.i, .alsoWhen { $0.type == AttributeType.int.rawValue }),
        .bytes(4, \.s, .alsoWhen { $0.type == AttributeType.string.rawValue }),
        .message(5, \.t),
        // floats/ints are plain (unpacked) repeated fields in onnx.proto; packed is accepted by every proto2 parser.
        .packed(7, \.floats),
        .packed(8, \.ints),
        .repeated(9, \.strings),
        .string(13, \.docString),
        .int32(20, \.type, .always),
    ]
}

extension TensorProto: TableCodedMessage {
    static let protoName = "TensorProto"
    static let fields: [ProtoField<Self>] = [
        .packed(1, \.dims),
        .int32(2, \.dataType, .always),
        .packed(4, \.floatData),
        .packed(5, \.int32Data),
        .packed(7, \.int64Data),
        .string(8, \.name),
        .bytes(9, \.rawData),
        .string(12, \.docString),
        .repeated(13, \.externalData),
        .int32(14, \.dataLocation),
    ]
}

extension ValueInfoProto: TableCodedMessage {
    static let protoName = "ValueInfoProto"
    static let fields: [ProtoField<Self>] = [.string(1, \.name, .always), .message(2, \.type), .string(3, \.docString)]
}

extension TypeProto: TableCodedMessage {
    static let protoName = "TypeProto"
    static let fields: [ProtoField<Self>] = [.message(1, \.tensorType), .string(6, \.denotation)]
}

extension TypeProto.Tensor: TableCodedMessage {
    static let protoName = "TypeProto.Tensor"
    static let fields: [ProtoField<Self>] = [.int32(1, \.elemType, .always), .message(2, \.shape)]
}

extension TensorShapeProto: TableCodedMessage {
    static let protoName = "TensorShapeProto"
    static let fields: [ProtoField<Self>] = [
        ProtoField(
            1,
            decode: { shape, wireType, reader in
                shape.dim.append(try reader.readMessage(wireType, field: 1, as: DimensionMessage.self).dimension)
            },
            encode: { shape, writer in
                for dimension in shape.dim { writer.writeMessage(1, DimensionMessage(dimension: dimension)) }
            })
    ]
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
