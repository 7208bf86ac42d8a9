import Foundation
import VectorKernels

// MaxPool and AveragePool over one spatial dimension ([N, C, L]), and GlobalAveragePool over any.

enum PoolKind {
    case max
    case average
}

/// Geometry shared by Conv and the pools along one spatial axis: input length, window, stride, dilation,
/// padding, output length.
struct WindowGeometry {
    let inputLength: Int
    let kernel: Int
    let stride: Int
    let dilation: Int
    let padBegin: Int
    let padEnd: Int
    let outputLength: Int

    var span: Int { (kernel - 1) * dilation + 1 }

    /// Reads `auto_pad`, `pads`, `strides`, `dilations` (and `ceil_mode` when `allowCeil`) for one axis.
    init(_ context: KernelContext, inputLength: Int, kernel: Int, allowCeil: Bool) throws {
        let attributes = context.attributes
        let strides = try attributes.ints("strides") ?? [1]
        let dilations = try attributes.ints("dilations") ?? [1]
        let pads = try attributes.ints("pads") ?? [0, 0]
        guard strides.count == 1, dilations.count == 1, pads.count == 2 else {
            throw context.unsupported(
                "only 1-D windows are supported (strides \(strides), dilations \(dilations), pads \(pads))")
        }
        guard strides[0] >= 1, dilations[0] >= 1, pads.allSatisfy({ $0 >= 0 }), kernel >= 1 else {
            throw context.unsupported(
                "invalid window: kernel \(kernel), strides \(strides), dilations "
                    + "\(dilations), pads \(pads)")
        }
        let ceilMode = allowCeil ? try attributes.int("ceil_mode", default: 0) != 0 : false
        let span = (kernel - 1) * dilations[0] + 1
        var padBegin = pads[0]
        var padEnd = pads[1]
        let output: Int
        switch try attributes.string("auto_pad", default: "NOTSET") {
        case "NOTSET", "":
            let extent = inputLength + padBegin + padEnd - span
            guard extent >= 0 else {
                throw context.mismatch(
                    "window \(span) is longer than the padded input \(inputLength + padBegin + padEnd)")
            }
            var length = (ceilMode ? (extent + strides[0] - 1) / strides[0] : extent / strides[0]) + 1
            // A ceil-mode window must start inside the input or its left padding.
            if ceilMode && (length - 1) * strides[0] >= inputLength + padBegin { length -= 1 }
            output = length
        case "VALID":
            (padBegin, padEnd) = (0, 0)
            guard inputLength >= span else {
                throw context.mismatch("window \(span) is longer than input \(inputLength)")
            }
            output = (inputLength - span) / strides[0] + 1
        case let mode where mode == "SAME_UPPER" || mode == "SAME_LOWER":
            output = (inputLength + strides[0] - 1) / strides[0]
            let total = max(0, (output - 1) * strides[0] + span - inputLength)
            padBegin = mode == "SAME_UPPER" ? total / 2 : total - total / 2
            padEnd = total - padBegin
        case let mode:
            throw context.unsupported("auto_pad '\(mode)' is not supported")
        }
        guard output >= 1 else { throw context.mismatch("the output would be empty") }
        self.inputLength = inputLength
        self.kernel = kernel
        self.stride = strides[0]
        self.dilation = dilations[0]
        self.padBegin = padBegin
        self.padEnd = padEnd
        self.outputLength = output
    }
}

func poolKernel(_ context: KernelContext, kind: PoolKind) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    let input = try context.input(0)
    try context.requireFloat(input, "X")
    guard input.type.rank == 3 else {
        throw context.unsupported("only 1-D pooling on [N, C, L] is supported, got input \(input.type.shape)")
    }
    guard let kernelShape = try context.attributes.ints("kernel_shape"), kernelShape.count == 1 else {
        throw context.unsupported("kernel_shape must have one entry")
    }
    let geometry = try WindowGeometry(
        context, inputLength: input.type.shape[2], kernel: kernelShape[0], allowCeil: true)
    let countPadding = try context.attributes.int("count_include_pad", default: 0) != 0
    let rows = input.type.shape[0] * input.type.shape[1]
    let output = ValueType(element: .float32, shape: [input.type.shape[0], input.type.shape[1], geometry.outputLength])
    let kernels = context.kernels
    let (length, outputLength) = (geometry.inputLength, geometry.outputLength)
    return .reading(output) { source, destination in
        parallelFor(rows, workers: ONNXRuntime.threadCount, minimumPerWorker: max(1, 32_768 / length)) { _, range in
            for row in range {
                let x = source + row * length
                let y = destination + row * outputLength
                if kind == .max {
                    maxPoolRow(x, y, geometry, kernels)
                } else {
                    averagePoolRow(x, y, geometry, countPadding: countPadding)
                }
            }
        }
    }
}

@inline(__always)
private func maxPoolRow(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ geometry: WindowGeometry,
    _ kernels: VectorKernelTable
) {
    var start = 0
    if geometry.kernel == 2 && geometry.stride == 2 && geometry.dilation == 1 && geometry.padBegin == 0 {
        // The common 2/2 pool: pairwise maxima of the windows inside the input.
        start = min(geometry.outputLength, geometry.inputLength / 2)
        kernels.maxPairs(x, y, start)
    }
    for index in start..<geometry.outputLength {
        let origin = index * geometry.stride - geometry.padBegin
        var largest = -Float.infinity
        for tap in 0..<geometry.kernel {
            let position = origin + tap * geometry.dilation
            if position >= 0 && position < geometry.inputLength { largest = max(largest, x[position]) }
        }
        y[index] = largest
    }
}

@inline(__always)
private func averagePoolRow(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ geometry: WindowGeometry, countPadding: Bool
) {
    let paddedEnd = geometry.inputLength + geometry.padEnd
    for index in 0..<geometry.outputLength {
        let origin = index * geometry.stride - geometry.padBegin
        var sum: Float = 0
        var inside = 0
        var padded = 0
        for tap in 0..<geometry.kernel {
            let position = origin + tap * geometry.dilation
            if position >= 0 && position < geometry.inputLength {
                sum += x[position]
                inside += 1
            }
            if position >= -geometry.padBegin && position < paddedEnd { padded += 1 }
        }
        let divisor = countPadding ? padded : inside
        y[index] = divisor > 0 ? sum / Float(divisor) : 0
    }
}

func globalAveragePoolKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    let input = try context.input(0)
    try context.requireFloat(input, "X")
    guard input.type.rank >= 3 else { throw context.mismatch("X must be [N, C, spatial…], got \(input.type.shape)") }
    let rows = input.type.shape[0] * input.type.shape[1]
    let spatial = input.type.shape[2...].reduce(1, *)
    let shape = Array(input.type.shape[..<2]) + [Int](repeating: 1, count: input.type.rank - 2)
    let kernels = context.kernels
    return .reading(ValueType(element: .float32, shape: shape)) { source, destination in
        kernels.rowMeans(source, destination, rows, spatial)
    }
}
