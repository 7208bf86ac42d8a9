import Foundation

/// A loaded, validated ONNX model that runs on the CPU.
///
/// Loading decodes the protobuf, checks the graph (known operators, float32/int64 tensors, every input
/// defined, an order in which to run the nodes) and plans it once with every symbolic dimension set to 1,
/// so that attribute and shape errors surface at load time. `run` plans each new combination of input
/// shapes once (shapes, folded constants, reused buffers) and reuses the plan afterwards.
///
/// Thread safety: `run` may be called from several threads; calls are serialised.
public final class ONNXModel: @unchecked Sendable {
    /// The graph inputs a caller feeds (initializers that a file also lists as inputs are excluded).
    public let inputs: [ValueDescription]
    public let outputs: [ValueDescription]
    /// The model's `metadata_props`.
    public let metadata: [String: String]
    /// The default-domain opset the model imports.
    public let opsetVersion: Int64
    public let irVersion: Int64
    public let producerName: String
    public let producerVersion: String

    private let graph: ValidatedGraph
    private let lock = NSLock()
    private var plans: [[[Int]]: ExecutionPlan] = [:]
    private var planOrder: [[[Int]]] = []
    /// Plans kept for different input shapes (batch sizes); the oldest is dropped beyond this.
    private static let maximumPlans = 8

    public convenience init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ONNXError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        try self.init(data: data)
    }

    public init(data: Data) throws {
        let model = try ModelProto(serializedData: data)
        graph = try ValidatedGraph(model: model)
        inputs = graph.inputs
        outputs = graph.outputs
        metadata = graph.metadata
        opsetVersion = graph.opset
        irVersion = model.irVersion
        producerName = model.producerName
        producerVersion = model.producerVersion
        // A trial plan with symbolic dimensions at 1 checks every node's attributes and shapes now.
        let trialShapes = try inputs.map { input -> [Int] in
            guard let shape = input.shape else {
                throw ONNXError.invalidModel("graph input '\(input.name)' declares no shape")
            }
            return shape.map { dimension in
                if case .fixed(let size) = dimension { return size }
                return 1
            }
        }
        try cachedPlan(for: trialShapes)
    }

    /// Runs the graph. Every graph input must be given with its declared element type and a shape that
    /// matches the declared fixed dimensions (symbolic dimensions with the same name must agree).
    public func run(inputs feeds: [String: Tensor]) throws -> [String: Tensor] {
        var ordered: [Tensor] = []
        var symbols: [String: Int] = [:]
        for input in inputs {
            guard let tensor = feeds[input.name] else {
                throw ONNXError.invalidInput(name: input.name, reason: "missing (the model needs \(input))")
            }
            guard tensor.elementType == input.elementType else {
                throw ONNXError.invalidInput(
                    name: input.name, reason: "expected \(input.elementType), got \(tensor.elementType)")
            }
            if let declared = input.shape {
                guard declared.count == tensor.shape.count else {
                    throw ONNXError.invalidInput(
                        name: input.name,
                        reason: "expected rank \(declared.count) (\(input)), got shape \(tensor.shape)")
                }
                for (dimension, size) in zip(declared, tensor.shape) {
                    switch dimension {
                    case .fixed(let fixed) where fixed != size:
                        throw ONNXError.invalidInput(
                            name: input.name, reason: "expected \(input), got shape \(tensor.shape)")
                    case .symbolic(let symbol):
                        if let bound = symbols[symbol], bound != size {
                            throw ONNXError.invalidInput(
                                name: input.name,
                                reason: "dimension \(symbol) is \(size) here but \(bound) in another input")
                        }
                        symbols[symbol] = size
                    default: break
                    }
                }
            }
            ordered.append(tensor)
        }
        for name in feeds.keys where !inputs.contains(where: { $0.name == name }) {
            throw ONNXError.invalidInput(name: name, reason: "the model has no such input")
        }
        lock.lock()
        defer { lock.unlock() }
        return try cachedPlanLocked(for: ordered.map(\.shape)).run(ordered)
    }

    /// Convenience for a single-input, single-output model.
    public func run(_ input: Tensor) throws -> Tensor {
        guard inputs.count == 1, outputs.count == 1, let inputName = inputs.first?.name,
            let outputName = outputs.first?.name
        else {
            throw ONNXError.invalidInput(
                name: inputs.first?.name ?? "", reason: "the model does not have one input and one output")
        }
        guard let result = try run(inputs: [inputName: input])[outputName] else {
            throw ONNXError.invalidModel("output '\(outputName)' was not computed")
        }
        return result
    }

    /// The plan for these input shapes, made now if it is not cached (tests and diagnostics look at its counts).
    func plan(forInputShapes shapes: [[Int]]) throws -> ExecutionPlan {
        try cachedPlan(for: shapes)
    }

    @discardableResult
    private func cachedPlan(for shapes: [[Int]]) throws -> ExecutionPlan {
        lock.lock()
        defer { lock.unlock() }
        return try cachedPlanLocked(for: shapes)
    }

    private func cachedPlanLocked(for shapes: [[Int]]) throws -> ExecutionPlan {
        if let plan = plans[shapes] { return plan }
        let types = zip(inputs, shapes).map { ValueType(element: $0.elementType, shape: $1) }
        let plan = try ExecutionPlan(graph: graph, inputTypes: types)
        if planOrder.count >= Self.maximumPlans {
            plans[planOrder.removeFirst()] = nil
        }
        plans[shapes] = plan
        planOrder.append(shapes)
        return plan
    }
}
