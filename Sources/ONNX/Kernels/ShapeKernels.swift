import Foundation

// Operators that move or relabel data without arithmetic: Reshape, Flatten, Squeeze, Unsqueeze, Identity,
// Dropout (inference), Shape, Constant, Concat, Gather, Cast.

func reshapeKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    let data = try context.input(0)
    let target = try context.constantInput(1)
    guard target.type.element == .int64, target.type.rank == 1 else {
        throw context.mismatch("the shape input must be a 1-D int64 tensor, got \(target.type)")
    }
    let allowZero = context.opset >= 14 ? try context.attributes.int("allowzero", default: 0) != 0 : false
    var shape: [Int] = []
    var inferredIndex: Int?
    for (index, value) in target.int64s.enumerated() {
        switch value {
        case -1:
            guard inferredIndex == nil else { throw context.mismatch("the shape \(target.int64s) has two -1 entries") }
            inferredIndex = index
            shape.append(1)
        case 0 where !allowZero:
            guard index < data.type.rank else {
                throw context.mismatch(
                    "shape entry \(index) is 0 but the input \(data.type.shape) has no such dimension")
            }
            shape.append(data.type.shape[index])
        case 0...Int64(Int32.max):
            shape.append(Int(value))
        default:
            throw context.mismatch("the shape \(target.int64s) has invalid entry \(value)")
        }
    }
    // Entries are at most Int32.max each; refuse products that would overflow before comparing counts.
    var known = 1
    for size in shape {
        let (product, overflow) = known.multipliedReportingOverflow(by: size)
        guard !overflow, product <= Int(Int32.max) else {
            throw context.mismatch("the shape \(target.int64s) is too large")
        }
        known = product
    }
    if let inferredIndex {
        guard known > 0, data.type.count % known == 0 else {
            throw context.mismatch("cannot reshape \(data.type.shape) to \(target.int64s)")
        }
        shape[inferredIndex] = data.type.count / known
    }
    guard shape.reduce(1, *) == data.type.count else {
        throw context.mismatch(
            "cannot reshape \(data.type.shape) (\(data.type.count) elements) to \(shape) (\(shape.reduce(1, *)))")
    }
    return KernelPlan(outputTypes: [ValueType(element: data.type.element, shape: shape)], kind: .view)
}

func flattenKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    let data = try context.input(0)
    let rank = data.type.rank
    var axis = try context.attributes.int("axis", default: 1)
    if axis < 0 { axis += rank }
    guard axis >= 0, axis <= rank else { throw context.mismatch("axis \(axis) is out of range for rank \(rank)") }
    let outer = data.type.shape[..<axis].reduce(1, *)
    let inner = data.type.shape[axis...].reduce(1, *)
    return KernelPlan(outputTypes: [ValueType(element: data.type.element, shape: [outer, inner])], kind: .view)
}

/// Squeeze/Unsqueeze axes: an attribute before opset 13, an optional constant input from 13 on.
private func axesArgument(_ context: KernelContext) throws -> [Int]? {
    if context.opset < 13 { return try context.attributes.ints("axes") }
    guard context.optionalInput(1) != nil else { return nil }
    let axes = try context.constantInput(1)
    guard axes.type.element == .int64, axes.type.rank <= 1 else {
        throw context.mismatch("axes must be a 1-D int64 tensor, got \(axes.type)")
    }
    return axes.int64s.map { Int($0) }
}

func squeezeKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    let data = try context.input(0)
    let shape = data.type.shape
    var removed = Set<Int>()
    if let axes = try axesArgument(context) {
        for axis in axes {
            let normalised = try context.axis(axis, rank: shape.count)
            guard shape[normalised] == 1 else {
                throw context.mismatch("cannot squeeze axis \(axis) of shape \(shape): its size is not 1")
            }
            removed.insert(normalised)
        }
    } else {
        removed = Set(shape.indices.filter { shape[$0] == 1 })
    }
    let output = shape.indices.filter { !removed.contains($0) }.map { shape[$0] }
    return KernelPlan(outputTypes: [ValueType(element: data.type.element, shape: output)], kind: .view)
}

func unsqueezeKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    let data = try context.input(0)
    guard let axes = try axesArgument(context) else { throw context.mismatch("Unsqueeze needs axes") }
    let rank = data.type.rank + axes.count
    var inserted = Set<Int>()
    for axis in axes {
        guard inserted.insert(try context.axis(axis, rank: rank)).inserted else {
            throw context.mismatch("axes \(axes) repeat an axis")
        }
    }
    var remaining = data.type.shape.makeIterator()
    var output: [Int] = []
    for index in 0..<rank {
        if inserted.contains(index) {
            output.append(1)
        } else if let size = remaining.next() {
            output.append(size)
        }
    }
    return KernelPlan(outputTypes: [ValueType(element: data.type.element, shape: output)], kind: .view)
}

func identityKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    return KernelPlan(outputTypes: [try context.input(0).type], kind: .view)
}

/// Dropout at inference: the identity. A requested mask output or a `training_mode` input is refused.
func dropoutKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    if context.optionalInput(2) != nil {
        throw context.unsupported("Dropout's training_mode input is not supported (inference only)")
    }
    return KernelPlan(outputTypes: [try context.input(0).type], kind: .view)
}

func shapeKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    let shape = try context.input(0).type.shape
    let rank = shape.count
    func clamp(_ value: Int) -> Int { min(max(value < 0 ? value + rank : value, 0), rank) }
    let start = clamp(context.opset >= 15 ? try context.attributes.int("start", default: 0) : 0)
    let end = clamp(context.opset >= 15 ? try context.attributes.int("end", default: rank) : rank)
    let dims = start < end ? shape[start..<end].map { Int64($0) } : []
    let value = ConstantValue(int64s: dims, shape: [dims.count])
    return KernelPlan(outputTypes: [value.type], kind: .constant([value]))
}

func constantKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    let attributes = context.attributes
    let value: ConstantValue
    if let tensor = try attributes.tensor("value") {
        value = try ConstantValue(proto: tensor, context: "node '\(context.node.name)' attribute 'value'")
    } else if attributes.has("value_float") {
        value = ConstantValue(floats: [try attributes.float("value_float", default: 0)], shape: [])
    } else if let floats = try attributes.floats("value_floats") {
        value = ConstantValue(floats: floats, shape: [floats.count])
    } else if let int = try attributes.int("value_int") {
        value = ConstantValue(int64s: [Int64(int)], shape: [])
    } else if let ints = try attributes.ints("value_ints") {
        value = ConstantValue(int64s: ints.map { Int64($0) }, shape: [ints.count])
    } else {
        throw context.unsupported("Constant needs a value, value_float(s) or value_int(s) attribute")
    }
    return KernelPlan(outputTypes: [value.type], kind: .constant([value]))
}

func concatKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    guard let axisAttribute = try context.attributes.int("axis") else { throw context.mismatch("Concat needs axis") }
    let inputs = try context.node.inputs.indices.map { try context.input($0) }
    guard let first = inputs.first else { throw context.mismatch("Concat needs at least one input") }
    let rank = first.type.rank
    let axis = try context.axis(axisAttribute, rank: max(rank, 1))
    var shape = first.type.shape
    shape[axis] = 0
    for input in inputs {
        let other = input.type.shape
        guard input.type.element == first.type.element, other.count == rank,
            other.indices.allSatisfy({ $0 == axis || other[$0] == shape[$0] })
        else {
            throw context.mismatch(
                "cannot concatenate \(inputs.map(\.type.description).joined(separator: ", ")) along axis \(axis)")
        }
        shape[axis] += other[axis]
    }
    let outer = shape[..<axis].reduce(1, *)
    let elementSize = first.type.element.byteSize
    let blockBytes = inputs.map { $0.type.shape[axis...].reduce(1, *) * elementSize }
    let outputBlock = blockBytes.reduce(0, +)
    let output = ValueType(element: first.type.element, shape: shape)
    return KernelPlan(
        outputTypes: [output],
        kind: .compute { sources, outputs in
            let destination = outputs[0]
            let sources = sources.map { $0 ?? destination }
            return {
                for row in 0..<outer {
                    var offset = row * outputBlock
                    for (source, bytes) in zip(sources, blockBytes) {
                        (destination + offset).copyMemory(from: source + row * bytes, byteCount: bytes)
                        offset += bytes
                    }
                }
            }
        })
}

func gatherKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    let data = try context.input(0)
    let indices = try context.input(1)
    guard indices.type.element == .int64 else { throw context.mismatch("indices must be int64") }
    let axis = try context.axis(try context.attributes.int("axis", default: 0), rank: data.type.rank)
    let shape = Array(data.type.shape[..<axis]) + indices.type.shape + Array(data.type.shape[(axis + 1)...])
    let outer = data.type.shape[..<axis].reduce(1, *)
    let axisSize = data.type.shape[axis]
    let blockBytes = data.type.shape[(axis + 1)...].reduce(1, *) * data.type.element.byteSize
    let indexCount = indices.type.count
    let node = context.node.name
    return KernelPlan(
        outputTypes: [ValueType(element: data.type.element, shape: shape)],
        kind: .compute { inputs, outputs in
            let destination = outputs[0]
            let source = inputs[0] ?? destination
            let indexPointer = (inputs[1] ?? destination).int64s
            return {
                for position in 0..<indexCount {
                    var index = Int(truncatingIfNeeded: indexPointer[position])
                    if index < 0 { index += axisSize }
                    guard index >= 0, index < axisSize else {
                        throw ONNXError.runtimeFailure(
                            node: node, reason: "index \(indexPointer[position]) is out of range for size \(axisSize)")
                    }
                    for row in 0..<outer {
                        (destination + (row * indexCount + position) * blockBytes).copyMemory(
                            from: source + (row * axisSize + index) * blockBytes, byteCount: blockBytes)
                    }
                }
            }
        })
}

func castKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    let input = try context.input(0)
    guard let to = try context.attributes.int("to") else { throw context.mismatch("Cast needs 'to'") }
    guard let target = ElementType(rawValue: Int32(truncatingIfNeeded: to)) else {
        throw ONNXError.unsupportedDataType(
            dataType: Int32(truncatingIfNeeded: to), context: "node '\(context.node.name)' (Cast to)")
    }
    let output = ValueType(element: target, shape: input.type.shape)
    let count = input.type.count
    if target == input.type.element { return KernelPlan(outputTypes: [output], kind: .view) }
    return KernelPlan(
        outputTypes: [output],
        kind: .compute { inputs, outputs in
            let source = inputs[0] ?? outputs[0]
            let destination = outputs[0]
            if target == .float32 {
                return {
                    for index in 0..<count { destination.floats[index] = Float(source.int64s[index]) }
                }
            }
            return {
                for index in 0..<count {
                    // Truncates toward zero like C; NaN and out-of-range values saturate instead of trapping.
                    let value = source.floats[index]
                    destination.int64s[index] =
                        value.isNaN ? 0 : value >= 9.2e18 ? Int64.max : value <= -9.2e18 ? Int64.min : Int64(value)
                }
            }
        })
}
