import Foundation
import VectorKernels

// Element-by-element operators: Relu, Add/Sub/Mul/Div with numpy broadcasting, BatchNormalization
// (inference), Softmax.

extension VectorKernelTable {
    /// x = max(x, 0) over `count` floats, in place.
    func reluInPlace(_ values: UnsafeMutablePointer<Float>, count: Int) {
        addScalar(values, 0, values, count, true)
    }
}

func reluKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    let input = try context.input(0)
    try context.requireFloat(input, "Relu's input")
    let count = input.type.count
    let kernels = context.kernels
    return .reading(input.type, inPlace: true) { source, destination in
        parallelFor(count, workers: ONNXRuntime.threadCount, minimumPerWorker: 1 << 16) { _, range in
            if source != destination {
                (destination + range.lowerBound).update(from: source + range.lowerBound, count: range.count)
            }
            kernels.reluInPlace(destination + range.lowerBound, count: range.count)
        }
    }
}

enum BinaryOperation {
    case add
    case subtract
    case multiply
    case divide
}

/// How two broadcast operands map onto the output: contiguous inner runs with a stride of 0 or 1 each.
private struct BroadcastLayout {
    let count: Int
    let innerSize: Int
    let innerStrideA: Int
    let innerStrideB: Int
    /// Output shape and operand strides without the innermost dimension.
    let outerShape: [Int]
    let outerStridesA: [Int]
    let outerStridesB: [Int]

    init(_ a: [Int], _ b: [Int], output: [Int]) {
        let stridesA = broadcastStrides(a, to: output)
        let stridesB = broadcastStrides(b, to: output)
        count = output.reduce(1, *)
        innerSize = output.last ?? 1
        innerStrideA = stridesA.last ?? 0
        innerStrideB = stridesB.last ?? 0
        outerShape = Array(output.dropLast())
        outerStridesA = Array(stridesA.dropLast())
        outerStridesB = Array(stridesB.dropLast())
    }

    /// Calls `body(offsetA, offsetB, offsetOut)` for each inner run.
    @inline(__always)
    func forEachRun(_ body: (Int, Int, Int) -> Void) {
        guard count > 0 else { return }
        var index = [Int](repeating: 0, count: outerShape.count)
        var offsetA = 0
        var offsetB = 0
        var offsetOut = 0
        while true {
            body(offsetA, offsetB, offsetOut)
            offsetOut += innerSize
            var dimension = outerShape.count - 1
            while dimension >= 0 {
                index[dimension] += 1
                offsetA += outerStridesA[dimension]
                offsetB += outerStridesB[dimension]
                if index[dimension] < outerShape[dimension] { break }
                offsetA -= outerStridesA[dimension] * outerShape[dimension]
                offsetB -= outerStridesB[dimension] * outerShape[dimension]
                index[dimension] = 0
                dimension -= 1
            }
            if dimension < 0 { return }
        }
    }
}

@inline(__always)
private func broadcastApply<T>(
    _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>, _ layout: BroadcastLayout,
    _ operation: (T, T) -> T
) {
    layout.forEachRun { offsetA, offsetB, offsetOut in
        let strideA = layout.innerStrideA
        let strideB = layout.innerStrideB
        for index in 0..<layout.innerSize {
            out[offsetOut + index] = operation(a[offsetA + index * strideA], b[offsetB + index * strideB])
        }
    }
}

func binaryKernel(_ context: KernelContext, _ operation: BinaryOperation) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    let a = try context.input(0)
    let b = try context.input(1)
    guard a.type.element == b.type.element else {
        throw context.mismatch("operands have different element types: \(a.type) and \(b.type)")
    }
    guard let shape = broadcastShape(a.type.shape, b.type.shape) else {
        throw context.mismatch("shapes \(a.type.shape) and \(b.type.shape) do not broadcast")
    }
    let layout = BroadcastLayout(a.type.shape, b.type.shape, output: shape)
    let element = a.type.element
    let node = context.node.name
    let bCount = b.type.count
    return KernelPlan(
        outputTypes: [ValueType(element: element, shape: shape)],
        kind: .compute { inputs, outputs in
            let out = outputs[0]
            let left = inputs[0] ?? out
            let right = inputs[1] ?? out
            if element == .float32 {
                let (x, y, z) = (UnsafePointer(left.floats), UnsafePointer(right.floats), out.floats)
                switch operation {
                case .add: return { broadcastApply(x, y, z, layout, +) }
                case .subtract: return { broadcastApply(x, y, z, layout, -) }
                case .multiply: return { broadcastApply(x, y, z, layout, *) }
                case .divide: return { broadcastApply(x, y, z, layout, /) }
                }
            }
            let (x, y, z) = (UnsafePointer(left.int64s), UnsafePointer(right.int64s), out.int64s)
            switch operation {
            case .add: return { broadcastApply(x, y, z, layout, &+) }
            case .subtract: return { broadcastApply(x, y, z, layout, &-) }
            case .multiply: return { broadcastApply(x, y, z, layout, &*) }
            case .divide:
                return {
                    for index in 0..<bCount where y[index] == 0 {
                        throw ONNXError.runtimeFailure(node: node, reason: "integer division by zero")
                    }
                    broadcastApply(x, y, z, layout) { $0 == Int64.min && $1 == -1 ? Int64.min : $0 / $1 }
                }
            }
        },
        inPlace: shape == a.type.shape)
}

func batchNormalizationKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    let x = try context.input(0)
    try context.requireFloat(x, "X")
    guard x.type.rank >= 2 else { throw context.mismatch("X must have rank ≥ 2, got \(x.type.shape)") }
    if try context.attributes.int("training_mode", default: 0) != 0 {
        throw context.unsupported("BatchNormalization with training_mode = 1 is not supported")
    }
    let channels = x.type.shape[1]
    let parameters = try (1...4).map { try context.input($0) }
    for (parameter, role) in zip(parameters, ["scale", "B", "input_mean", "input_var"]) {
        try context.requireFloat(parameter, role)
        guard parameter.type.shape == [channels] else {
            throw context.mismatch("\(role) must have shape [\(channels)], got \(parameter.type.shape)")
        }
    }
    let epsilon = try context.attributes.float("epsilon", default: 1e-5)
    let batch = x.type.shape[0]
    let spatial = x.type.shape[2...].reduce(1, *)
    // y = x * factor[c] + offset[c], factor = scale / sqrt(var + eps), offset = B - mean * factor.
    let coefficients = RawBuffer(byteCount: 2 * channels * 4)
    let factor = coefficients.floats
    let offset = coefficients.floats + channels
    func prepare(
        _ scale: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, _ mean: UnsafePointer<Float>,
        _ variance: UnsafePointer<Float>
    ) {
        for channel in 0..<channels {
            factor[channel] = scale[channel] / (variance[channel] + epsilon).squareRoot()
            offset[channel] = bias[channel] - mean[channel] * factor[channel]
        }
    }
    let constants = parameters.compactMap(\.constant)
    let prepared = constants.count == 4
    if prepared {
        prepare(
            constants[0].buffer.floats, constants[1].buffer.floats, constants[2].buffer.floats,
            constants[3].buffer.floats)
    }
    return KernelPlan(
        outputTypes: [x.type],
        kind: .compute { inputs, outputs in
            let source = (inputs[0] ?? outputs[0]).floats
            let destination = outputs[0].floats
            let pointers = inputs[1...].map { UnsafePointer(($0 ?? outputs[0]).floats) }
            return {
                if !prepared { prepare(pointers[0], pointers[1], pointers[2], pointers[3]) }
                _ = coefficients
                for row in 0..<(batch * channels) {
                    let channel = row % channels
                    let (scale, shift) = (factor[channel], offset[channel])
                    let base = row * spatial
                    for index in base..<(base + spatial) { destination[index] = source[index] * scale + shift }
                }
            }
        },
        inPlace: true)
}

func softmaxKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    let input = try context.input(0)
    try context.requireFloat(input, "Softmax's input")
    let shape = input.type.shape
    let outer: Int
    let axisSize: Int
    let inner: Int
    if context.opset >= 13 {
        let axis = try context.axis(try context.attributes.int("axis", default: -1), rank: max(shape.count, 1))
        (outer, axisSize, inner) = (
            shape[..<axis].reduce(1, *), shape.isEmpty ? 1 : shape[axis], shape[(axis + 1)...].reduce(1, *)
        )
    } else {
        // Before opset 13 the input is coerced to 2-D at `axis` and each row is normalised.
        var axis = try context.attributes.int("axis", default: 1)
        if axis < 0 { axis += shape.count }
        guard axis >= 0, axis <= shape.count else { throw context.mismatch("axis \(axis) is out of range") }
        (outer, axisSize, inner) = (shape[..<axis].reduce(1, *), shape[axis...].reduce(1, *), 1)
    }
    return .reading(input.type, inPlace: true) { source, destination in
        for row in 0..<outer {
            for column in 0..<inner {
                let base = row * axisSize * inner + column
                var largest = -Float.infinity
                for index in 0..<axisSize { largest = max(largest, source[base + index * inner]) }
                var sum: Float = 0
                for index in 0..<axisSize {
                    let value = expf(source[base + index * inner] - largest)
                    destination[base + index * inner] = value
                    sum += value
                }
                for index in 0..<axisSize { destination[base + index * inner] /= sum }
            }
        }
    }
}
