import Foundation
import VectorKernels

/// The graph compiled for one set of input shapes: every value's type is known, constant subgraphs (shape
/// arithmetic, Constant nodes) are folded, views share their source's memory, buffers are reused once their
/// last reader has run, and each remaining node is a closure bound to fixed addresses.
///
/// Not thread-safe: its steps write fixed buffers, so a `PlanCache` (one per session) runs one plan at a time.
final class ExecutionPlan {
    private(set) var steps: [Step] = []
    /// Graph inputs in declaration order: where `run` copies each one (nil when no node reads it).
    private var inputSlots: [UnsafeMutableRawPointer?] = []
    private var outputSlots: [(name: String, type: ValueType, pointer: UnsafeMutableRawPointer)] = []
    /// Owns the memory the closures point into.
    private var buffers: [RawBuffer] = []
    /// Counts for tests and diagnostics.
    private(set) var foldedNodes = 0
    private(set) var viewNodes = 0
    private(set) var fusedRelus = 0

    init(graph: ValidatedGraph, inputTypes: [ValueType], kernels: VectorKernelTable) throws {
        var values = ValueTable(graph: graph)
        let graphInputs = try values.declareInputs(inputTypes)
        let pending = try bindNodes(graph, values: &values, kernels: kernels)
        try values.checkOutputs()
        var lifetimes = Lifetimes(pending, values: values)
        lifetimes.writeInPlace(pending, values: &values)
        let storage = allocateBuffers(pending, graphInputs: graphInputs, lifetimes: lifetimes, values: values)
        try bindSteps(pending, graphInputs: graphInputs, storage: storage, values: values)
    }

    /// Each node in order: folded into constants when it can be (a constant kind, a view of a constant, or a
    /// computation whose inputs are all known), a view of its input, or a step left to bind to memory.
    private func bindNodes(
        _ graph: ValidatedGraph, values: inout ValueTable, kernels: VectorKernelTable
    ) throws -> [PendingStep] {
        let relus = FusibleRelus(graph)
        var pending: [PendingStep] = []
        for (index, node) in graph.nodes.enumerated() {
            let inputIDs = try node.inputs.map { $0.isEmpty ? nil : try values.lookup($0, node: node.name) }
            let plan: KernelPlan
            if relus.absorbed.contains(index), let source = inputIDs[0] {
                plan = KernelPlan(outputTypes: [values.types[source]], kind: .view)
                fusedRelus += 1
            } else {
                let kernelInputs = inputIDs.map { id in
                    id.map { KernelInput(type: values.types[$0], constant: values.constants[$0]) }
                }
                plan = try makeKernel(
                    KernelContext(
                        node: node, inputs: kernelInputs, opset: graph.opset, fuseRelu: relus.fused.contains(index),
                        kernels: kernels))
            }
            for type in plan.outputTypes { try ValueTable.checkSize(type, node.name) }
            var outputIDs: [Int] = []
            for (position, name) in node.outputs.enumerated() where !name.isEmpty {
                guard position < plan.outputTypes.count else {
                    throw ONNXError.unsupportedAttribute(
                        node: node.name, reason: "\(node.opType) has no output \(position + 1) ('\(name)')")
                }
                outputIDs.append(values.newValue(name, plan.outputTypes[position]))
            }
            switch plan.kind {
            case .constant(let constants):
                for (id, value) in zip(outputIDs, constants) { values.constants[id] = value }
                foldedNodes += 1
            case .view:
                guard let source = inputIDs.first ?? nil, let output = outputIDs.first else { continue }
                if let constant = values.constants[source] {
                    values.constants[output] = ConstantValue(type: values.types[output], buffer: constant.buffer)
                } else {
                    values.viewOf[output] = source
                }
                viewNodes += 1
            case .compute(let binder):
                if inputIDs.allSatisfy({ id in id.map { values.constants[$0] != nil } ?? true }) {
                    try Self.fold(node, plan: plan, binder: binder, inputs: inputIDs, values: &values)
                    foldedNodes += 1
                } else {
                    let positional = node.outputs.map { name in name.isEmpty ? nil : values.ids[name] }
                    // Outputs the node does not name still need memory: give them private values.
                    let bound = plan.outputTypes.enumerated().map { position, type in
                        (position < positional.count ? positional[position] : nil) ?? values.newValue(nil, type)
                    }
                    pending.append(PendingStep(binder: binder, inputs: inputIDs, outputs: bound, inPlace: plan.inPlace))
                }
            }
        }
        return pending
    }

    /// Every input is known: runs the kernel now and keeps its outputs as constants.
    private static func fold(
        _ node: GraphNode, plan: KernelPlan, binder: Binder, inputs inputIDs: [Int?], values: inout ValueTable
    ) throws {
        let outputs = plan.outputTypes.map { ConstantValue(type: $0, buffer: RawBuffer(byteCount: $0.byteCount)) }
        let step = binder(
            inputIDs.map { id in id.flatMap { values.constants[$0]?.buffer.pointer } }, outputs.map(\.buffer.pointer))
        try ONNXRuntime.withSingleThreadedBLAS { try step() }
        for (position, name) in node.outputs.enumerated() where !name.isEmpty {
            if let id = values.ids[name] { values.constants[id] = outputs[position] }
        }
    }

    /// Memory: a buffer for each graph input read and each step output that is no view, taken best-fit from the
    /// pool of buffers whose values are dead, else new (kept in `buffers`).
    private func allocateBuffers(
        _ pending: [PendingStep], graphInputs: [Int], lifetimes: Lifetimes, values: ValueTable
    ) -> [Int: RawBuffer] {
        var storage: [Int: RawBuffer] = [:]
        var free: [RawBuffer] = []
        func allocate(_ id: Int) {
            let bytes = values.types[id].byteCount
            if let index = free.indices.filter({ free[$0].byteCount >= bytes })
                .min(by: { free[$0].byteCount < free[$1].byteCount })
            {
                storage[id] = free.remove(at: index)
            } else {
                let buffer = RawBuffer(byteCount: bytes)
                buffers.append(buffer)
                storage[id] = buffer
            }
        }
        for id in graphInputs where lifetimes.lastUse[id] != nil { allocate(id) }
        var releasing: [Int: [Int]] = [:]
        for (id, position) in lifetimes.lastUse where id == values.root(id) && !lifetimes.pinned.contains(id) {
            releasing[position, default: []].append(id)
        }
        let outputsAt: [[Int]] = pending.map { $0.outputs.filter { values.viewOf[$0] == nil } }
        for position in pending.indices {
            for id in outputsAt[position] { allocate(id) }
            for id in releasing[position] ?? [] {
                if let buffer = storage[id] { free.append(buffer) }
            }
        }
        return storage
    }

    /// Binds every step to the addresses of its values, and records where `run` copies inputs in and outputs out.
    private func bindSteps(
        _ pending: [PendingStep], graphInputs: [Int], storage: [Int: RawBuffer], values: ValueTable
    ) throws {
        func pointer(_ id: Int) -> UnsafeMutableRawPointer? {
            if let constant = values.constants[id] { return constant.buffer.pointer }
            return storage[values.root(id)]?.pointer
        }
        // Constants the plan reads stay alive with it.
        buffers.append(contentsOf: values.constants.values.map(\.buffer))
        steps = pending.map { step in
            step.binder(step.inputs.map { $0.flatMap(pointer) }, step.outputs.compactMap(pointer))
        }
        inputSlots = graphInputs.map { pointer($0) }
        for output in values.graph.outputs {
            guard let id = values.ids[output.name], let address = pointer(id) else {
                throw ONNXError.invalidModel("graph output '\(output.name)' has no storage")
            }
            outputSlots.append((output.name, values.types[id], address))
        }
    }

    /// Copies the inputs in (ordered as the graph declares them, already checked), runs every step, and
    /// copies the outputs out.
    func run(_ inputs: [Tensor]) throws -> [String: Tensor] {
        for (tensor, slot) in zip(inputs, inputSlots) {
            guard let slot else { continue }
            switch tensor.storage {
            case .float32(let values):
                values.withUnsafeBytes {
                    if let base = $0.baseAddress { slot.copyMemory(from: base, byteCount: $0.count) }
                }
            case .int64(let values):
                values.withUnsafeBytes {
                    if let base = $0.baseAddress { slot.copyMemory(from: base, byteCount: $0.count) }
                }
            }
        }
        try ONNXRuntime.withSingleThreadedBLAS {
            for step in steps { try step() }
        }
        var results: [String: Tensor] = [:]
        for (name, type, address) in outputSlots {
            let count = type.count
            switch type.element {
            case .float32:
                let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    if let base = buffer.baseAddress { base.update(from: address.floats, count: count) }
                    initialized = count
                }
                results[name] = Tensor(shape: type.shape, floats: values)
            case .int64:
                let values = [Int64](unsafeUninitializedCapacity: count) { buffer, initialized in
                    if let base = buffer.baseAddress { base.update(from: address.int64s, count: count) }
                    initialized = count
                }
                results[name] = Tensor(shape: type.shape, int64s: values)
            }
        }
        return results
    }

    /// A declared graph output must agree with what the graph computes: element type, rank, fixed sizes.
    fileprivate static func check(_ output: ValueDescription, against type: ValueType) throws {
        guard output.elementType == type.element else {
            throw ONNXError.invalidModel(
                "graph output '\(output.name)' is declared \(output.elementType) but computes \(type.element)")
        }
        guard let declared = output.shape else { return }
        let agrees =
            declared.count == type.rank
            && zip(declared, type.shape).allSatisfy { dimension, size in
                if case .fixed(let fixed) = dimension { return fixed == size }
                return true
            }
        guard agrees else {
            throw ONNXError.invalidModel(
                "graph output '\(output.name)' is declared \(declared.map(\.description)) but computes \(type.shape)")
        }
    }
}

/// Every value of a plan being made: its type, its name, its folded constant, and the value whose memory a view
/// shares.
private struct ValueTable {
    let graph: ValidatedGraph
    var types: [ValueType] = []
    var ids: [String: Int] = [:]
    var constants: [Int: ConstantValue] = [:]
    var viewOf: [Int: Int] = [:]

    init(graph: ValidatedGraph) { self.graph = graph }

    static func checkSize(_ type: ValueType, _ what: String) throws {
        guard ValueType.checkedCount(type.shape) == nil else { return }
        throw ONNXError.shapeMismatch(
            node: what, reason: "\(type.shape) has more than \(ValueType.maximumElements) elements")
    }

    /// The graph inputs' values, in declaration order, once every size is checked.
    mutating func declareInputs(_ inputTypes: [ValueType]) throws -> [Int] {
        for (description, type) in zip(graph.inputs, inputTypes) {
            try Self.checkSize(type, "graph input '\(description.name)'")
        }
        return zip(graph.inputs, inputTypes).map { description, type in newValue(description.name, type) }
    }

    mutating func newValue(_ name: String?, _ type: ValueType) -> Int {
        types.append(type)
        if let name { ids[name] = types.count - 1 }
        return types.count - 1
    }

    /// The value named `name`: one seen already, else an initializer (a constant from now on).
    mutating func lookup(_ name: String, node: String) throws -> Int {
        if let id = ids[name] { return id }
        guard let initializer = graph.initializers[name] else {
            throw ONNXError.undefinedValue(name: name, node: node)
        }
        let id = newValue(name, initializer.type)
        constants[id] = initializer
        return id
    }

    /// A view's root: the value that owns the memory it shares.
    func root(_ id: Int) -> Int {
        var current = id
        while let parent = viewOf[current] { current = parent }
        return current
    }

    /// Every graph output is produced, with the element type, rank and fixed sizes it is declared with.
    mutating func checkOutputs() throws {
        for output in graph.outputs {
            guard let id = ids[output.name] ?? (try? lookup(output.name, node: "graph output")) else {
                throw ONNXError.invalidModel("graph output '\(output.name)' is not produced")
            }
            try ExecutionPlan.check(output, against: types[id])
        }
    }
}

/// The Relus folded into the Conv or Gemm in front of them, where nothing else reads the Conv/Gemm output:
/// `fused` holds those producers' node indices, `absorbed` the Relus' (each becomes a view).
private struct FusibleRelus {
    var fused = Set<Int>()
    var absorbed = Set<Int>()

    init(_ graph: ValidatedGraph) {
        let graphOutputNames = Set(graph.outputs.map(\.name))
        var readers: [String: Int] = [:]
        for node in graph.nodes { for input in node.inputs where !input.isEmpty { readers[input, default: 0] += 1 } }
        var producerIndex: [String: Int] = [:]
        for (index, node) in graph.nodes.enumerated() {
            for output in node.outputs where !output.isEmpty { producerIndex[output] = index }
        }
        for (index, node) in graph.nodes.enumerated() where node.opType == "Relu" && node.inputs.count == 1 {
            let source = node.inputs[0]
            guard let producer = producerIndex[source], ["Conv", "Gemm"].contains(graph.nodes[producer].opType),
                readers[source] == 1, !graphOutputNames.contains(source)
            else { continue }
            fused.insert(producer)
            absorbed.insert(index)
        }
    }
}

/// Liveness over roots (a view shares its root's memory): the step after which each value is dead, and the
/// values that must outlive every step (the graph outputs').
private struct Lifetimes {
    var lastUse: [Int: Int] = [:]
    var pinned = Set<Int>()

    init(_ pending: [PendingStep], values: ValueTable) {
        let end = pending.count
        for (position, step) in pending.enumerated() {
            for id in step.inputs.compactMap({ $0 }) where values.constants[id] == nil {
                lastUse[values.root(id)] = position
            }
            for id in step.outputs where lastUse[id] == nil { lastUse[id] = position }
        }
        for output in values.graph.outputs {
            if let id = values.ids[output.name], values.constants[id] == nil { pinned.insert(values.root(id)) }
        }
        for id in pinned { lastUse[id] = end }
    }

    /// In place: an elementwise step may overwrite its first input when nothing reads that input later.
    mutating func writeInPlace(_ pending: [PendingStep], values: inout ValueTable) {
        for (position, step) in pending.enumerated() where step.inPlace {
            guard let first = step.inputs.first ?? nil, values.constants[first] == nil, let output = step.outputs.first
            else { continue }
            let source = values.root(first)
            let others = step.inputs.dropFirst().compactMap { $0 }.filter { values.constants[$0] == nil }
                .map { values.root($0) }
            guard lastUse[source] == position, !pinned.contains(source), !others.contains(source),
                values.types[source].byteCount == values.types[output].byteCount
            else { continue }
            values.viewOf[output] = source
            lastUse[source] = lastUse[output] ?? position
            if pinned.contains(output) { pinned.insert(source) }
        }
    }
}

/// A node left to run, before memory is given to its values: value ids of its inputs (nil for an absent
/// optional one) and outputs.
private struct PendingStep {
    let binder: Binder
    let inputs: [Int?]
    let outputs: [Int]
    let inPlace: Bool
}
