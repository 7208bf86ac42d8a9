import CPUFeatures
import Foundation
import VectorKernels

/// A loaded, validated ONNX model: the decoded graph and its weights, immutable and shared by every thread.
///
/// Loading decodes the protobuf, checks the graph (known operators, float32/int64 tensors, every input
/// defined, an order in which to run the nodes) and plans it once with every symbolic dimension set to 1,
/// so that attribute and shape errors surface at load time. Running needs scratch memory: each thread takes its
/// own `ONNXSession` (`makeSession()`), which plans each new combination of input shapes once (shapes, folded
/// constants, reused buffers) and reuses the plan afterwards; the weights are never copied.
///
/// Thread safety: the model may be shared freely. Its own `run` goes through one built-in session, so calls to
/// it from several threads are serialised; threads that should run at once each make a session.
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

    let graph: ValidatedGraph
    /// The plans behind the model's own `run`; the load-time trial plan is its first.
    private let builtInPlans: PlanCache

    public convenience init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ONNXError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        do {
            try self.init(data: data)
        } catch let error as ONNXError {
            throw ONNXError.unusableFile(path: url.path, error: error)
        }
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
        builtInPlans = PlanCache(graph: graph, kernelPath: KernelDispatch.path)
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
        try builtInPlans.plan(for: trialShapes)
    }

    /// A session for one thread: its own plans and buffers over this model's graph and weights. Its kernels are
    /// the process's (`KernelDispatch.path`) unless `kernelPath` names another the CPU supports (tests compare
    /// the paths); one it does not support falls back to the process's, as `ONNXSession.kernelPath` then says.
    public func makeSession(kernelPath: KernelPath = KernelDispatch.path) -> ONNXSession {
        ONNXSession(model: self, kernelPath: ONNXRuntime.supports(kernelPath) ? kernelPath : KernelDispatch.path)
    }

    /// Runs the graph. Every graph input must be given with its declared element type and a shape that
    /// matches the declared fixed dimensions (symbolic dimensions with the same name must agree).
    public func run(inputs feeds: [String: Tensor]) throws -> [String: Tensor] {
        try builtInPlans.run(checkedInputs(feeds))
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
        try builtInPlans.plan(for: shapes)
    }

    /// The feeds in graph-input order, each checked against its declaration: present, of the declared element
    /// type and rank, fixed dimensions equal, symbolic dimensions of one name agreeing across inputs.
    func checkedInputs(_ feeds: [String: Tensor]) throws -> [Tensor] {
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
                try Self.check(tensor, against: declared, of: input, symbols: &symbols)
            }
            ordered.append(tensor)
        }
        for name in feeds.keys where !inputs.contains(where: { $0.name == name }) {
            throw ONNXError.invalidInput(name: name, reason: "the model has no such input")
        }
        return ordered
    }

    private static func check(
        _ tensor: Tensor, against declared: [TensorDimension], of input: ValueDescription, symbols: inout [String: Int]
    ) throws {
        guard declared.count == tensor.shape.count else {
            throw ONNXError.invalidInput(
                name: input.name, reason: "expected rank \(declared.count) (\(input)), got shape \(tensor.shape)")
        }
        for (dimension, size) in zip(declared, tensor.shape) {
            switch dimension {
            case .fixed(let fixed) where fixed != size:
                throw ONNXError.invalidInput(name: input.name, reason: "expected \(input), got shape \(tensor.shape)")
            case .symbolic(let symbol):
                if let bound = symbols[symbol], bound != size {
                    throw ONNXError.invalidInput(
                        name: input.name, reason: "dimension \(symbol) is \(size) here but \(bound) in another input")
                }
                symbols[symbol] = size
            default: break
            }
        }
    }
}

/// One thread's way of running a shared `ONNXModel`: the execution plans (scratch buffers bound into each
/// step) for the input shapes it has seen. The graph and weights stay the model's.
///
/// Thread safety: meant for one thread at a time; calls from several threads are serialised.
public final class ONNXSession: @unchecked Sendable {
    public let model: ONNXModel
    /// The SIMD kernels this session's plans call.
    public let kernelPath: KernelPath
    private let plans: PlanCache

    init(model: ONNXModel, kernelPath: KernelPath) {
        self.model = model
        self.kernelPath = kernelPath
        plans = PlanCache(graph: model.graph, kernelPath: kernelPath)
    }

    /// Runs the graph, as `ONNXModel.run(inputs:)` does, on this session's buffers.
    public func run(inputs feeds: [String: Tensor]) throws -> [String: Tensor] {
        try plans.run(model.checkedInputs(feeds))
    }
}

/// Execution plans by input shapes, each made once, the oldest dropped beyond `maximumPlans`. A plan owns
/// buffers its steps write, so one plan runs at a time: every call holds the lock.
final class PlanCache: @unchecked Sendable {
    private let graph: ValidatedGraph
    private let kernels: VectorKernelTable
    private let lock = NSLock()
    private var plans: [[[Int]]: ExecutionPlan] = [:]
    private var planOrder: [[[Int]]] = []
    /// Plans kept for different input shapes (batch sizes); the oldest is dropped beyond this.
    private static let maximumPlans = 8

    init(graph: ValidatedGraph, kernelPath: KernelPath) {
        self.graph = graph
        kernels = ONNXRuntime.kernels(for: kernelPath)
    }

    /// Runs checked inputs (in graph-input order) on the plan for their shapes.
    func run(_ ordered: [Tensor]) throws -> [String: Tensor] {
        lock.lock()
        defer { lock.unlock() }
        return try planLocked(for: ordered.map(\.shape)).run(ordered)
    }

    @discardableResult
    func plan(for shapes: [[Int]]) throws -> ExecutionPlan {
        lock.lock()
        defer { lock.unlock() }
        return try planLocked(for: shapes)
    }

    private func planLocked(for shapes: [[Int]]) throws -> ExecutionPlan {
        if let plan = plans[shapes] { return plan }
        let types = zip(graph.inputs, shapes).map { ValueType(element: $0.elementType, shape: $1) }
        let plan = try ExecutionPlan(graph: graph, inputTypes: types, kernels: kernels)
        if planOrder.count >= Self.maximumPlans {
            plans[planOrder.removeFirst()] = nil
        }
        plans[shapes] = plan
        planOrder.append(shapes)
        return plan
    }
}
