import Foundation

/// A graph input or output as the model declares it.
public struct ValueDescription: Equatable, Sendable, CustomStringConvertible {
    public let name: String
    public let elementType: ElementType
    /// nil when the model declares no shape (any rank is accepted).
    public let shape: [TensorDimension]?

    public var description: String {
        let dims = shape.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "[?]"
        return "\(name): \(elementType)\(dims)"
    }
}

/// Element type and concrete shape of a value once the input shapes are known.
struct ValueType: Equatable, CustomStringConvertible {
    var element: ElementType
    var shape: [Int]

    var count: Int { shape.reduce(1, *) }
    var byteCount: Int { count * element.byteSize }
    var rank: Int { shape.count }

    var description: String { "\(element)\(shape)" }

    /// Larger tensors are refused rather than allocated (a corrupt or hostile file could ask for terabytes): 2^28
    /// elements, 1 GiB of float32.
    static let maximumElements = 1 << 28

    /// The element count of `shape`, or nil when a size is negative or the count passes `maximumElements`
    /// (checked one factor at a time, so no product ever overflows).
    static func checkedCount<Size: BinaryInteger>(_ shape: [Size]) -> Int? {
        var count = 1
        for size in shape {
            guard size >= 0, size <= maximumElements else { return nil }
            count *= Int(size)
            guard count <= maximumElements else { return nil }
        }
        return count
    }
}

/// Owned, 64-byte aligned, zero-initialised memory for a tensor or a kernel's scratch space.
final class RawBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) {
        self.byteCount = byteCount
        pointer = .allocate(byteCount: max(byteCount, 64), alignment: 64)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 64))
    }

    deinit { pointer.deallocate() }

    var floats: UnsafeMutablePointer<Float> { pointer.assumingMemoryBound(to: Float.self) }
}

/// A tensor known before the graph runs: an initializer, a Constant node, or a value folded from them.
struct ConstantValue {
    let type: ValueType
    let buffer: RawBuffer

    init(type: ValueType, buffer: RawBuffer) {
        self.type = type
        self.buffer = buffer
    }

    init(floats: [Float], shape: [Int]) {
        type = ValueType(element: .float32, shape: shape)
        buffer = RawBuffer(byteCount: floats.count * 4)
        floats.withUnsafeBytes {
            if let base = $0.baseAddress { buffer.pointer.copyMemory(from: base, byteCount: $0.count) }
        }
    }

    init(int64s: [Int64], shape: [Int]) {
        type = ValueType(element: .int64, shape: shape)
        buffer = RawBuffer(byteCount: int64s.count * 8)
        int64s.withUnsafeBytes {
            if let base = $0.baseAddress { buffer.pointer.copyMemory(from: base, byteCount: $0.count) }
        }
    }

    var floats: [Float] {
        guard type.element == .float32 else { return [] }
        return Array(UnsafeBufferPointer(start: buffer.pointer.assumingMemoryBound(to: Float.self), count: type.count))
    }

    var int64s: [Int64] {
        guard type.element == .int64 else { return [] }
        return Array(UnsafeBufferPointer(start: buffer.pointer.assumingMemoryBound(to: Int64.self), count: type.count))
    }

    var tensor: Tensor {
        switch type.element {
        case .float32: return Tensor(shape: type.shape, floats: floats)
        case .int64: return Tensor(shape: type.shape, int64s: int64s)
        }
    }

    /// Converts an ONNX `TensorProto` (typed fields or little-endian `raw_data`); float32 and int64 only.
    init(proto: TensorProto, context: String) throws {
        guard proto.dataLocation == 0, proto.externalData.isEmpty else {
            throw ONNXError.invalidModel("\(context) keeps its data in an external file, which is not supported")
        }
        if let negative = proto.dims.first(where: { $0 < 0 }) {
            throw ONNXError.invalidModel("\(context) has invalid dimension \(negative) in \(proto.dims)")
        }
        guard let count = ValueType.checkedCount(proto.dims) else {
            throw ONNXError.invalidModel(
                "\(context) declares dims \(proto.dims), more than the \(ValueType.maximumElements) elements a tensor "
                    + "may have")
        }
        let element: ElementType
        let typedCount: Int
        switch proto.dataType {
        case TensorProto.DataType.float.rawValue: (element, typedCount) = (.float32, proto.floatData.count)
        case TensorProto.DataType.int64.rawValue: (element, typedCount) = (.int64, proto.int64Data.count)
        default: throw ONNXError.unsupportedDataType(dataType: proto.dataType, context: context)
        }
        // The data must be in the file before anything is allocated for it: a tensor is never larger than its file.
        let useRawData = !proto.rawData.isEmpty || typedCount == 0 && count > 0
        if useRawData, proto.rawData.count != count * element.byteSize {
            throw ONNXError.invalidModel(
                "\(context): dims \(proto.dims) need \(count * element.byteSize) bytes of \(element) data, "
                    + "raw_data has \(proto.rawData.count)")
        }
        if !useRawData, typedCount != count {
            throw ONNXError.invalidModel(
                "\(context): dims \(proto.dims) need \(count) values, the typed data field has \(typedCount)")
        }
        let buffer = RawBuffer(byteCount: count * element.byteSize)
        if useRawData {
            proto.rawData.withUnsafeBytes {
                if let base = $0.baseAddress { buffer.pointer.copyMemory(from: base, byteCount: $0.count) }
            }
        } else {
            switch element {
            case .float32:
                proto.floatData.withUnsafeBytes {
                    if let base = $0.baseAddress { buffer.pointer.copyMemory(from: base, byteCount: $0.count) }
                }
            case .int64:
                proto.int64Data.withUnsafeBytes {
                    if let base = $0.baseAddress { buffer.pointer.copyMemory(from: base, byteCount: $0.count) }
                }
            }
        }
        self.type = ValueType(element: element, shape: proto.dims.map { Int($0) })
        self.buffer = buffer
    }
}

/// A node's attributes by name, with typed accessors that check the attribute's declared type.
struct Attributes {
    let node: String
    private let values: [String: AttributeProto]

    init(_ attributes: [AttributeProto], node: String) throws {
        self.node = node
        var values: [String: AttributeProto] = [:]
        for attribute in attributes {
            guard values.updateValue(attribute, forKey: attribute.name) == nil else {
                throw ONNXError.invalidModel("node '\(node)' has attribute '\(attribute.name)' twice")
            }
        }
        self.values = values
    }

    func has(_ name: String) -> Bool { values[name] != nil }

    private func value(_ name: String, _ type: AttributeProto.AttributeType) throws -> AttributeProto? {
        guard let attribute = values[name] else { return nil }
        // Old exporters sometimes leave `type` unset; accept the value then.
        guard attribute.type == type.rawValue || attribute.type == 0 else {
            throw ONNXError.unsupportedAttribute(
                node: node, reason: "attribute '\(name)' has type \(attribute.type), expected \(type.rawValue)")
        }
        return attribute
    }

    func int(_ name: String) throws -> Int? {
        guard let attribute = try value(name, .int) else { return nil }
        guard let value = Int(exactly: attribute.i) else {
            throw ONNXError.unsupportedAttribute(node: node, reason: "attribute '\(name)' is out of range")
        }
        return value
    }

    func int(_ name: String, default fallback: Int) throws -> Int { try int(name) ?? fallback }

    func ints(_ name: String) throws -> [Int]? {
        guard let attribute = try value(name, .ints) else { return nil }
        return try attribute.ints.map { value in
            guard let converted = Int(exactly: value), abs(converted) < 1 << 40 else {
                throw ONNXError.unsupportedAttribute(node: node, reason: "attribute '\(name)' has value \(value)")
            }
            return converted
        }
    }

    func float(_ name: String, default fallback: Float) throws -> Float {
        try value(name, .float)?.f ?? fallback
    }

    func floats(_ name: String) throws -> [Float]? { try value(name, .floats)?.floats }

    func string(_ name: String, default fallback: String) throws -> String {
        guard let attribute = try value(name, .string) else { return fallback }
        return String(decoding: attribute.s, as: UTF8.self)
    }

    func tensor(_ name: String) throws -> TensorProto? {
        guard let attribute = try value(name, .tensor) else { return nil }
        guard let tensor = attribute.t else {
            throw ONNXError.invalidModel("node '\(node)': tensor attribute '\(name)' has no tensor")
        }
        return tensor
    }
}

/// One node of a validated graph.
struct GraphNode {
    /// The node's name, or "#index opType" when the file leaves it empty.
    let name: String
    let opType: String
    /// Input value names; "" marks an absent optional input.
    let inputs: [String]
    let outputs: [String]
    let attributes: Attributes
}

/// A model checked for what the runtime needs: known operators, defined inputs, an order in which every
/// node runs after the nodes it reads from.
struct ValidatedGraph {
    /// The operators with a kernel (the kernel factory's table: one list).
    static let supportedOperators = Set(kernelFactories.keys)
    static let supportedOpsets: ClosedRange<Int64> = 7...23

    let nodes: [GraphNode]
    let initializers: [String: ConstantValue]
    let inputs: [ValueDescription]
    let outputs: [ValueDescription]
    let opset: Int64
    let metadata: [String: String]

    init(model: ModelProto) throws {
        guard let graph = model.graph else { throw ONNXError.invalidModel("the model has no graph") }
        guard let opset = model.opsetImport.first(where: { $0.domain.isEmpty || $0.domain == "ai.onnx" }) else {
            throw ONNXError.invalidModel("the model imports no default-domain operator set (opset_import)")
        }
        guard Self.supportedOpsets.contains(opset.version) else {
            throw ONNXError.invalidModel(
                "opset \(opset.version) is not supported (supported: \(Self.supportedOpsets.lowerBound)"
                    + "...\(Self.supportedOpsets.upperBound))")
        }
        self.opset = opset.version
        var metadata: [String: String] = [:]
        for entry in model.metadataProps { metadata[entry.key] = entry.value }
        self.metadata = metadata

        var initializers: [String: ConstantValue] = [:]
        for tensor in graph.initializer {
            guard !tensor.name.isEmpty else { throw ONNXError.invalidModel("an initializer has no name") }
            guard initializers[tensor.name] == nil else {
                throw ONNXError.invalidModel("initializer '\(tensor.name)' is defined twice")
            }
            initializers[tensor.name] = try ConstantValue(proto: tensor, context: "initializer '\(tensor.name)'")
        }
        self.initializers = initializers

        // Before IR 4 every initializer was also listed as an input; those are constants here.
        let inputs = try graph.input.filter { initializers[$0.name] == nil }
            .map { try Self.describe($0, role: "graph input") }
        self.inputs = inputs
        var defined = Set(initializers.keys)
        for input in inputs {
            guard defined.insert(input.name).inserted else {
                throw ONNXError.invalidModel("graph input '\(input.name)' is declared twice")
            }
        }

        var nodes: [GraphNode] = []
        var producer: [String: Int] = [:]
        for (index, proto) in graph.node.enumerated() {
            let name = proto.name.isEmpty ? "#\(index) \(proto.opType)" : proto.name
            guard proto.domain.isEmpty || proto.domain == "ai.onnx",
                Self.supportedOperators.contains(proto.opType)
            else {
                throw ONNXError.unsupportedOperator(opType: proto.opType, domain: proto.domain, node: name)
            }
            for output in proto.output where !output.isEmpty {
                guard !defined.contains(output), producer.updateValue(index, forKey: output) == nil else {
                    throw ONNXError.invalidModel("value '\(output)' is defined twice (again by node '\(name)')")
                }
            }
            nodes.append(
                GraphNode(
                    name: name, opType: proto.opType, inputs: proto.input, outputs: proto.output,
                    attributes: try Attributes(proto.attribute, node: name)))
        }
        self.nodes = try Self.topologicallySorted(nodes, producer: producer, defined: defined)

        outputs = try graph.output.map { try Self.describe($0, role: "graph output") }
        for output in outputs where producer[output.name] == nil && !defined.contains(output.name) {
            throw ONNXError.invalidModel("graph output '\(output.name)' is not produced by any node")
        }
        guard !outputs.isEmpty else { throw ONNXError.invalidModel("the graph has no outputs") }
    }

    private static func describe(_ info: ValueInfoProto, role: String) throws -> ValueDescription {
        guard !info.name.isEmpty else { throw ONNXError.invalidModel("a \(role) has no name") }
        guard let tensorType = info.type?.tensorType else {
            throw ONNXError.invalidModel("\(role) '\(info.name)' is not a tensor")
        }
        guard let element = ElementType(rawValue: tensorType.elemType) else {
            throw ONNXError.unsupportedDataType(dataType: tensorType.elemType, context: "\(role) '\(info.name)'")
        }
        let shape = try tensorType.shape.map { shape in
            try shape.dim.map { dimension -> TensorDimension in
                switch dimension {
                case .value(let value):
                    guard value >= 0, value <= Int64(Int32.max) else {
                        throw ONNXError.invalidModel("\(role) '\(info.name)' has dimension \(value)")
                    }
                    return .fixed(Int(value))
                case .param(let name): return name.isEmpty ? .unknown : .symbolic(name)
                case .unknown: return .unknown
                }
            }
        }
        return ValueDescription(name: info.name, elementType: element, shape: shape)
    }

    /// Kahn's algorithm, keeping the file's order among nodes that are ready together.
    private static func topologicallySorted(_ nodes: [GraphNode], producer: [String: Int], defined: Set<String>)
        throws -> [GraphNode]
    {
        var pending = [Int](repeating: 0, count: nodes.count)
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for (index, node) in nodes.enumerated() {
            for input in Set(node.inputs) where !input.isEmpty {
                if let source = producer[input] {
                    pending[index] += 1
                    consumers[source].append(index)
                } else if !defined.contains(input) {
                    throw ONNXError.undefinedValue(name: input, node: node.name)
                }
            }
        }
        var ready = (0..<nodes.count).filter { pending[$0] == 0 }
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        while !ready.isEmpty {
            ready.sort(by: >)
            guard let next = ready.popLast() else { break }
            order.append(next)
            for consumer in consumers[next] {
                pending[consumer] -= 1
                if pending[consumer] == 0 { ready.append(consumer) }
            }
        }
        guard order.count == nodes.count else {
            let stuck = (0..<nodes.count).filter { pending[$0] > 0 }.map { nodes[$0].name }
            throw ONNXError.cyclicGraph(nodes: stuck)
        }
        return order.map { nodes[$0] }
    }
}
