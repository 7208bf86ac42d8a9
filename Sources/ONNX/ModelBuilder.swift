import Foundation

/// One dimension of a graph input or output: a fixed size, a symbolic name such as "N" (a dynamic batch),
/// or unknown.
public enum TensorDimension: Equatable, Hashable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral,
    ExpressibleByStringLiteral
{
    case fixed(Int)
    case symbolic(String)
    case unknown

    public init(integerLiteral value: Int) {
        self = .fixed(value)
    }

    public init(stringLiteral value: String) {
        self = .symbolic(value)
    }

    public var description: String {
        switch self {
        case .fixed(let size): return String(size)
        case .symbolic(let name): return name
        case .unknown: return "?"
        }
    }

    var proto: TensorShapeProto.Dimension {
        switch self {
        case .fixed(let size): return .value(Int64(size))
        case .symbolic(let name): return .param(name)
        case .unknown: return .unknown
        }
    }
}

/// Assembles an ONNX model for export: initializers, nodes, typed graph inputs and outputs, opset and
/// metadata, then `serialized()`.
///
/// ```swift
/// var builder = ONNXModelBuilder(graphName: "cnn")
/// try builder.addInput("beats", shape: ["N", 1, 187])
/// try builder.addInitializer("w", dims: [32, 1, 5], floats: weights)
/// try builder.addNode("Conv", inputs: ["beats", "w"], outputs: ["c"], attributes: [.ints("pads", [2, 2])])
/// try builder.addOutput("logits", shape: ["N", 5])
/// let data = builder.serialized()
/// ```
///
/// Names are checked as they are added: a value may be defined once (by an input, an initializer or a
/// node output). Whether every node input is defined is checked by `ONNXModel` when the file is loaded.
public struct ONNXModelBuilder: Sendable {
    /// The default-domain operator set version (17 unless set otherwise).
    public var opsetVersion: Int64
    /// The IR version written; nil means the one that goes with `opsetVersion` (8 for opset 17).
    public var irVersion: Int64?
    public var producerName = "pipe"
    public var producerVersion = ""
    public var docString = ""

    private var graph = GraphProto()
    private var metadata: [StringStringEntryProto] = []
    private var definedValues: Set<String> = []

    public init(graphName: String = "main", opsetVersion: Int64 = 17) {
        self.opsetVersion = opsetVersion
        graph.name = graphName
    }

    /// The IR version released together with an opset version (onnx/docs/Versioning.md).
    public static func irVersion(forOpset opset: Int64) -> Int64 {
        switch opset {
        case ...8: return 3
        case 9: return 4
        case 10: return 5
        case 11: return 6
        case 12...14: return 7
        case 15...18: return 8
        case 19...20: return 9
        default: return 10
        }
    }

    /// Adds a float32 initializer (stored little-endian in `raw_data`).
    public mutating func addInitializer(_ name: String, dims: [Int], floats: [Float]) throws {
        try addRawInitializer(name, dims: dims, type: .float, values: floats)
    }

    /// Adds an int64 initializer (stored little-endian in `raw_data`).
    public mutating func addInitializer(_ name: String, dims: [Int], int64s: [Int64]) throws {
        try addRawInitializer(name, dims: dims, type: .int64, values: int64s)
    }

    private mutating func addRawInitializer<Element>(
        _ name: String, dims: [Int], type: TensorProto.DataType, values: [Element]
    ) throws {
        try checkInitializer(name, dims: dims, count: values.count)
        var tensor = TensorProto()
        tensor.name = name
        tensor.dims = dims.map { Int64($0) }
        tensor.dataType = type.rawValue
        tensor.rawData = values.withUnsafeBytes { [UInt8]($0) }
        graph.initializer.append(tensor)
    }

    /// Adds a node. `name` defaults to "<opType>_<index>"; pass "" for an absent optional input.
    public mutating func addNode(
        _ opType: String, inputs: [String], outputs: [String], name: String? = nil, attributes: [AttributeProto] = []
    ) throws {
        guard !outputs.isEmpty else { throw ONNXError.invalidModel("node \(opType) has no outputs") }
        var node = NodeProto()
        node.opType = opType
        node.name = name ?? "\(opType)_\(graph.node.count)"
        node.input = inputs
        node.output = outputs
        node.attribute = attributes
        for output in outputs where !output.isEmpty { try define(output, by: "node '\(node.name)'") }
        graph.node.append(node)
    }

    /// Declares a graph input. Use a symbolic dimension ("N") for a dynamic batch.
    public mutating func addInput(_ name: String, elementType: ElementType = .float32, shape: [TensorDimension])
        throws
    {
        try define(name, by: "graph input")
        graph.input.append(Self.valueInfo(name, elementType, shape))
    }

    /// Declares a graph output; some node must produce it.
    public mutating func addOutput(_ name: String, elementType: ElementType = .float32, shape: [TensorDimension]) {
        graph.output.append(Self.valueInfo(name, elementType, shape))
    }

    /// Sets a `metadata_props` entry (replacing an earlier value for the same key).
    public mutating func setMetadata(_ key: String, _ value: String) {
        if let index = metadata.firstIndex(where: { $0.key == key }) {
            metadata[index].value = value
        } else {
            metadata.append(StringStringEntryProto(key: key, value: value))
        }
    }

    /// The assembled model.
    public func model() -> ModelProto {
        var model = ModelProto()
        model.irVersion = irVersion ?? Self.irVersion(forOpset: opsetVersion)
        model.opsetImport = [OperatorSetIdProto(domain: "", version: opsetVersion)]
        model.producerName = producerName
        model.producerVersion = producerVersion
        model.docString = docString
        model.graph = graph
        model.metadataProps = metadata
        return model
    }

    /// The model in ONNX's protobuf encoding, ready to write to a `.onnx` file.
    public func serialized() -> Data {
        model().serializedData()
    }

    private mutating func checkInitializer(_ name: String, dims: [Int], count: Int) throws {
        guard dims.allSatisfy({ $0 >= 0 }), dims.reduce(1, *) == count else {
            throw ONNXError.invalidModel(
                "initializer '\(name)': dims \(dims) need \(dims.reduce(1, *)) values, got \(count)")
        }
        try define(name, by: "initializer")
    }

    private mutating func define(_ name: String, by definer: String) throws {
        guard !name.isEmpty else { throw ONNXError.invalidModel("\(definer) has an empty value name") }
        guard definedValues.insert(name).inserted else {
            throw ONNXError.invalidModel("value '\(name)' is defined twice (again by \(definer))")
        }
    }

    private static func valueInfo(_ name: String, _ elementType: ElementType, _ shape: [TensorDimension])
        -> ValueInfoProto
    {
        var tensorType = TypeProto.Tensor()
        tensorType.elemType = elementType.rawValue
        tensorType.shape = TensorShapeProto(dim: shape.map(\.proto))
        var type = TypeProto()
        type.tensorType = tensorType
        var info = ValueInfoProto()
        info.name = name
        info.type = type
        return info
    }
}
