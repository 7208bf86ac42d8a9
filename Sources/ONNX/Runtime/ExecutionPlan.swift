import Foundation

/// The graph compiled for one set of input shapes: every value's type is known, constant subgraphs (shape
/// arithmetic, Constant nodes) are folded, views share their source's memory, buffers are reused once their
/// last reader has run, and each remaining node is a closure bound to fixed addresses.
///
/// Not thread-safe: its steps write fixed buffers, so a `PlanCache` (one per session) runs one plan at a time.
final class ExecutionPlan {
    private struct PendingStep {
        let binder: Binder
        let inputs: [Int?]
        let outputs: [Int]
        let inPlace: Bool
    }

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

    init(graph: ValidatedGraph, inputTypes: [ValueType]) throws {
        var types: [ValueType] = []
        var ids: [String: Int] = [:]
        var constants: [Int: ConstantValue] = [:]
        var viewOf: [Int: Int] = [:]
        var graphInputs: [Int] = []

        // Larger values are refused rather than allocated (a corrupt or hostile file could ask for terabytes).
        let maximumElements = 1 << 28
        func checkSize(_ type: ValueType, _ what: String) throws {
            var count = 1
            for size in type.shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: size)
                guard size >= 0, !overflow, product <= maximumElements else {
                    throw ONNXError.shapeMismatch(
                        node: what, reason: "\(type.shape) has more than \(maximumElements) elements")
                }
                count = product
            }
        }
        for (description, type) in zip(graph.inputs, inputTypes) {
            try checkSize(type, "graph input '\(description.name)'")
        }
        func newValue(_ name: String?, _ type: ValueType) -> Int {
            types.append(type)
            if let name { ids[name] = types.count - 1 }
            return types.count - 1
        }
        for (description, type) in zip(graph.inputs, inputTypes) {
            graphInputs.append(newValue(description.name, type))
        }
        func lookup(_ name: String, node: String) throws -> Int {
            if let id = ids[name] { return id }
            guard let initializer = graph.initializers[name] else {
                throw ONNXError.undefinedValue(name: name, node: node)
            }
            let id = newValue(name, initializer.type)
            constants[id] = initializer
            return id
        }

        // Fold a Relu into the Conv or Gemm in front of it when nothing else reads the Conv/Gemm output.
        let graphOutputNames = Set(graph.outputs.map(\.name))
        var readers: [String: Int] = [:]
        for node in graph.nodes { for input in node.inputs where !input.isEmpty { readers[input, default: 0] += 1 } }
        var fuseRelu = Set<Int>()
        var absorbedRelu = Set<Int>()
        var producerIndex: [String: Int] = [:]
        for (index, node) in graph.nodes.enumerated() {
            for output in node.outputs where !output.isEmpty { producerIndex[output] = index }
        }
        for (index, node) in graph.nodes.enumerated() where node.opType == "Relu" && node.inputs.count == 1 {
            let source = node.inputs[0]
            guard let producer = producerIndex[source], ["Conv", "Gemm"].contains(graph.nodes[producer].opType),
                readers[source] == 1, !graphOutputNames.contains(source)
            else { continue }
            fuseRelu.insert(producer)
            absorbedRelu.insert(index)
        }

        var pending: [PendingStep] = []
        for (index, node) in graph.nodes.enumerated() {
            let inputIDs = try node.inputs.map { $0.isEmpty ? nil : try lookup($0, node: node.name) }
            let kernelInputs = inputIDs.map { id in
                id.map { KernelInput(type: types[$0], constant: constants[$0]) }
            }
            let plan: KernelPlan
            if absorbedRelu.contains(index), let source = inputIDs[0] {
                plan = KernelPlan(outputTypes: [types[source]], kind: .view)
                fusedRelus += 1
            } else {
                plan = try makeKernel(
                    KernelContext(
                        node: node, inputs: kernelInputs, opset: graph.opset, fuseRelu: fuseRelu.contains(index)))
            }
            for type in plan.outputTypes { try checkSize(type, node.name) }
            var outputIDs: [Int] = []
            for (position, name) in node.outputs.enumerated() where !name.isEmpty {
                guard position < plan.outputTypes.count else {
                    throw ONNXError.unsupportedAttribute(
                        node: node.name, reason: "\(node.opType) has no output \(position + 1) ('\(name)')")
                }
                outputIDs.append(newValue(name, plan.outputTypes[position]))
            }
            let allConstant = inputIDs.allSatisfy { id in id.map { constants[$0] != nil } ?? true }
            switch plan.kind {
            case .constant(let values):
                for (id, value) in zip(outputIDs, values) { constants[id] = value }
                foldedNodes += 1
            case .view:
                guard let source = inputIDs.first ?? nil, let output = outputIDs.first else { continue }
                if let constant = constants[source] {
                    constants[output] = ConstantValue(type: types[output], buffer: constant.buffer)
                } else {
                    viewOf[output] = source
                }
                viewNodes += 1
            case .compute(let binder):
                if allConstant {
                    // Every input is known: run the kernel now and keep its outputs as constants.
                    let outputs = plan.outputTypes.map {
                        ConstantValue(type: $0, buffer: RawBuffer(byteCount: $0.byteCount))
                    }
                    let step = binder(
                        inputIDs.map { id in id.flatMap { constants[$0]?.buffer.pointer } },
                        outputs.map(\.buffer.pointer))
                    try ONNXRuntime.withSingleThreadedBLAS { try step() }
                    for (position, name) in node.outputs.enumerated() where !name.isEmpty {
                        if let id = ids[name] { constants[id] = outputs[position] }
                    }
                    foldedNodes += 1
                } else {
                    let positional = node.outputs.enumerated().map { position, name in
                        name.isEmpty ? nil : ids[name]
                    }
                    // Outputs the node does not name still need memory: give them private values.
                    let bound = plan.outputTypes.enumerated().map { position, type in
                        (position < positional.count ? positional[position] : nil) ?? newValue(nil, type)
                    }
                    pending.append(PendingStep(binder: binder, inputs: inputIDs, outputs: bound, inPlace: plan.inPlace))
                }
            }
        }

        for output in graph.outputs {
            guard let id = ids[output.name] ?? (try? lookup(output.name, node: "graph output")) else {
                throw ONNXError.invalidModel("graph output '\(output.name)' is not produced")
            }
            try Self.check(output, against: types[id])
        }

        // Liveness over roots (a view shares its root's memory).
        func root(_ id: Int) -> Int {
            var current = id
            while let parent = viewOf[current] { current = parent }
            return current
        }
        let end = pending.count
        var lastUse: [Int: Int] = [:]
        for (position, step) in pending.enumerated() {
            for id in step.inputs.compactMap({ $0 }) where constants[id] == nil { lastUse[root(id)] = position }
            for id in step.outputs where lastUse[id] == nil { lastUse[id] = position }
        }
        var pinned = Set<Int>()
        for output in graph.outputs {
            if let id = ids[output.name], constants[id] == nil { pinned.insert(root(id)) }
        }
        for id in pinned { lastUse[id] = end }

        // In place: an elementwise step may overwrite its first input when nothing reads that input later.
        for (position, step) in pending.enumerated() where step.inPlace {
            guard let first = step.inputs.first ?? nil, constants[first] == nil, let output = step.outputs.first
            else { continue }
            let source = root(first)
            let others = step.inputs.dropFirst().compactMap { $0 }.filter { constants[$0] == nil }.map(root)
            guard lastUse[source] == position, !pinned.contains(source), !others.contains(source),
                types[source].byteCount == types[output].byteCount
            else { continue }
            viewOf[output] = source
            lastUse[source] = lastUse[output] ?? position
            if pinned.contains(output) { pinned.insert(source) }
        }

        // Memory: a pool of released buffers, reused best-fit.
        var storage: [Int: RawBuffer] = [:]
        var free: [RawBuffer] = []
        func allocate(_ id: Int) {
            let bytes = types[id].byteCount
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
        for id in graphInputs where lastUse[id] != nil { allocate(id) }
        var releasing: [Int: [Int]] = [:]
        for (id, position) in lastUse where id == root(id) && !pinned.contains(id) {
            releasing[position, default: []].append(id)
        }
        var outputsAt: [[Int]] = pending.map { $0.outputs.filter { viewOf[$0] == nil } }
        for position in pending.indices {
            for id in outputsAt[position] { allocate(id) }
            for id in releasing[position] ?? [] {
                if let buffer = storage[id] { free.append(buffer) }
            }
        }
        outputsAt.removeAll()

        func pointer(_ id: Int) -> UnsafeMutableRawPointer? {
            if let constant = constants[id] { return constant.buffer.pointer }
            return storage[root(id)]?.pointer
        }
        // Constants the plan reads stay alive with it.
        buffers.append(contentsOf: constants.values.map(\.buffer))
        steps = pending.map { step in
            step.binder(step.inputs.map { $0.flatMap(pointer) }, step.outputs.compactMap(pointer))
        }
        inputSlots = graphInputs.map { pointer($0) }
        for output in graph.outputs {
            guard let id = ids[output.name], let address = pointer(id) else {
                throw ONNXError.invalidModel("graph output '\(output.name)' has no storage")
            }
            outputSlots.append((output.name, types[id], address))
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
    private static func check(_ output: ValueDescription, against type: ValueType) throws {
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
