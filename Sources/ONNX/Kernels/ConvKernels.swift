import CBLAS
import Foundation

// 1-D convolution, [N, C, L] * [M, C, K] (+ bias [M]) -> [N, M, Lout], group 1.
//
// Two paths:
// - direct: few input taps (C·K ≤ 16, stride 1, dilation 1; e.g. the first layer on a raw beat, C = 1, K = 5), or
//   few filters (≤ 16, up to 256 taps). SIMD16 fused multiply-adds over 16 output positions, four output
//   channels at a time.
// - im2col + sgemm: a chunk of B samples is unrolled into col[C·K, B·Lout], one sgemm computes
//   tmp[M, B·Lout] = W[M, C·K] · col, and the epilogue adds the bias, applies a fused Relu and scatters the
//   chunk back to [B, M, Lout]. Chunks keep col within the caches and are split across workers.

/// Columns (B·Lout) an im2col chunk aims for: wide enough for an efficient sgemm, small enough to stay in cache.
let convolutionChunkColumns = 1024

func convolutionKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    let x = try context.input(0)
    let w = try context.input(1)
    let bias = context.optionalInput(2)
    try context.requireFloat(x, "X")
    try context.requireFloat(w, "W")
    guard x.type.rank == 3, w.type.rank == 3 else {
        throw context.unsupported(
            "only 1-D convolution ([N, C, L] * [M, C, K]) is supported, got X \(x.type.shape) and W \(w.type.shape)")
    }
    guard try context.attributes.int("group", default: 1) == 1 else {
        throw context.unsupported("Conv with group ≠ 1 is not supported")
    }
    let (batch, channels, length) = (x.type.shape[0], x.type.shape[1], x.type.shape[2])
    let (filters, kernel) = (w.type.shape[0], w.type.shape[2])
    guard w.type.shape[1] == channels else {
        throw context.mismatch("X has \(channels) channels but W \(w.type.shape) expects \(w.type.shape[1])")
    }
    if let kernelShape = try context.attributes.ints("kernel_shape"), kernelShape != [kernel] {
        throw context.mismatch("kernel_shape \(kernelShape) does not match W \(w.type.shape)")
    }
    if let bias {
        try context.requireFloat(bias, "B")
        guard bias.type.shape == [filters] else {
            throw context.mismatch("B must have shape [\(filters)], got \(bias.type.shape)")
        }
    }
    let geometry = try WindowGeometry(context, inputLength: length, kernel: kernel, allowCeil: false)
    let shape = ConvolutionShape(
        batch: batch, channels: channels, length: length, filters: filters, geometry: geometry, relu: context.fuseRelu)
    let output = ValueType(element: .float32, shape: [batch, filters, geometry.outputLength])
    if geometry.stride == 1 && geometry.dilation == 1
        && (channels * kernel <= 16 || directConvolutionWins(taps: channels * kernel, filters: filters))
    {
        return KernelPlan(outputTypes: [output], kind: .compute(directConvolution(shape)))
    }
    return KernelPlan(outputTypes: [output], kind: .compute(im2colConvolution(shape)))
}

struct ConvolutionShape {
    let batch: Int
    let channels: Int
    let length: Int
    let filters: Int
    let geometry: WindowGeometry
    let relu: Bool

    var kernel: Int { geometry.kernel }
    var outputLength: Int { geometry.outputLength }
}

// MARK: - Direct path

private func directConvolution(_ shape: ConvolutionShape) -> Binder {
    let (channels, length, filters, kernel) = (shape.channels, shape.length, shape.filters, shape.kernel)
    let outputLength = shape.outputLength
    let padBegin = shape.geometry.padBegin
    let vectors = (outputLength + 15) / 16
    // One zero-padded copy of a sample per worker: row r covers input positions r - padBegin.
    let rowLength = vectors * 16 + kernel - 1
    let scratch = RawBuffer(byteCount: ONNXRuntime.maximumWorkers * channels * rowLength * 4)
    return { inputs, outputs in
        let x = UnsafePointer((inputs[0] ?? outputs[0]).floats)
        let w = UnsafePointer((inputs[1] ?? outputs[0]).floats)
        let bias = inputs.count > 2 ? inputs[2].map { UnsafePointer($0.floats) } : nil
        let y = outputs[0].floats
        return {
            parallelFor(shape.batch, workers: ONNXRuntime.threadCount, minimumPerWorker: 4) { worker, samples in
                let padded = scratch.floats + worker * channels * rowLength
                for sample in samples {
                    for channel in 0..<channels {
                        let row = padded + channel * rowLength
                        let source = x + (sample * channels + channel) * length
                        let copied = min(length, rowLength - padBegin)
                        row.initialize(repeating: 0, count: padBegin)
                        (row + padBegin).update(from: source, count: copied)
                        (row + padBegin + copied).initialize(repeating: 0, count: rowLength - padBegin - copied)
                    }
                    directConvolutionSample(
                        padded, rowLength: rowLength, w, bias, y + sample * filters * outputLength, shape)
                }
            }
            _ = scratch
        }
    }
}

@inline(__always)
private func directConvolutionSample(
    _ padded: UnsafePointer<Float>, rowLength: Int, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
    _ y: UnsafeMutablePointer<Float>, _ shape: ConvolutionShape
) {
    let (channels, filters, kernel, outputLength) = (shape.channels, shape.filters, shape.kernel, shape.outputLength)
    let taps = channels * kernel
    var filter = 0
    while filter < filters {
        let block = min(4, filters - filter)
        var start = 0
        while start < outputLength {
            var accumulators = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
            if let bias {
                accumulators.0 = SIMD16(repeating: bias[filter])
                if block > 1 { accumulators.1 = SIMD16(repeating: bias[filter + 1]) }
                if block > 2 { accumulators.2 = SIMD16(repeating: bias[filter + 2]) }
                if block > 3 { accumulators.3 = SIMD16(repeating: bias[filter + 3]) }
            }
            for channel in 0..<channels {
                for tap in 0..<kernel {
                    let input = loadVector(padded + channel * rowLength + start + tap)
                    let weight = w + filter * taps + channel * kernel + tap
                    accumulators.0.addProduct(SIMD16(repeating: weight[0]), input)
                    if block == 4 {
                        accumulators.1.addProduct(SIMD16(repeating: weight[taps]), input)
                        accumulators.2.addProduct(SIMD16(repeating: weight[2 * taps]), input)
                        accumulators.3.addProduct(SIMD16(repeating: weight[3 * taps]), input)
                    } else {
                        if block > 1 { accumulators.1.addProduct(SIMD16(repeating: weight[taps]), input) }
                        if block > 2 { accumulators.2.addProduct(SIMD16(repeating: weight[2 * taps]), input) }
                    }
                }
            }
            if shape.relu {
                accumulators.0 = pointwiseMax(accumulators.0, .zero)
                accumulators.1 = pointwiseMax(accumulators.1, .zero)
                accumulators.2 = pointwiseMax(accumulators.2, .zero)
                accumulators.3 = pointwiseMax(accumulators.3, .zero)
            }
            let destination = y + filter * outputLength + start
            let remaining = outputLength - start
            storePartial(accumulators.0, destination, count: remaining)
            if block > 1 { storePartial(accumulators.1, destination + outputLength, count: remaining) }
            if block > 2 { storePartial(accumulators.2, destination + 2 * outputLength, count: remaining) }
            if block > 3 { storePartial(accumulators.3, destination + 3 * outputLength, count: remaining) }
            start += 16
        }
        filter += block
    }
}

/// Stores the first `count` lanes (all 16 when count ≥ 16).
@inline(__always)
func storePartial(_ vector: SIMD16<Float>, _ pointer: UnsafeMutablePointer<Float>, count: Int) {
    if count >= 16 {
        storeVector(vector, pointer)
    } else {
        for lane in 0..<count { pointer[lane] = vector[lane] }
    }
}

// MARK: - im2col + sgemm path

private func im2colConvolution(_ shape: ConvolutionShape) -> Binder {
    let (channels, filters, kernel, outputLength) = (shape.channels, shape.filters, shape.kernel, shape.outputLength)
    let taps = channels * kernel
    let chunk = max(1, min(shape.batch, convolutionChunkColumns / max(outputLength, 1)))
    let chunkCount = (shape.batch + chunk - 1) / chunk
    let columns = chunk * outputLength
    let columnBytes = taps * columns * 4
    let productBytes = filters * columns * 4
    let workerBytes = columnBytes + productBytes
    let scratch = RawBuffer(byteCount: ONNXRuntime.maximumWorkers * workerBytes)
    return { inputs, outputs in
        let x = UnsafePointer((inputs[0] ?? outputs[0]).floats)
        let w = UnsafePointer((inputs[1] ?? outputs[0]).floats)
        let bias = inputs.count > 2 ? inputs[2].map { UnsafePointer($0.floats) } : nil
        let y = outputs[0].floats
        return {
            parallelFor(chunkCount, workers: ONNXRuntime.threadCount) { worker, chunks in
                let col = (scratch.pointer + worker * workerBytes).assumingMemoryBound(to: Float.self)
                let product = (scratch.pointer + worker * workerBytes + columnBytes).assumingMemoryBound(to: Float.self)
                for chunkIndex in chunks {
                    let first = chunkIndex * chunk
                    let count = min(chunk, shape.batch - first)
                    let width = count * outputLength
                    im2col(x, first: first, count: count, col, shape)
                    // A single sample's product already has the output layout [M, Lout].
                    let target = count == 1 ? y + first * filters * outputLength : product
                    cblas_sgemm(
                        CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(filters), Int32(width), Int32(taps), 1, w,
                        Int32(taps), col, Int32(width), 0, target, Int32(width))
                    convolutionEpilogue(target, first: first, count: count, bias, y, shape)
                }
            }
            _ = scratch
        }
    }
}

/// col[channel·K + tap, b·Lout + t] = x[first + b, channel, t·stride + tap·dilation - padBegin] (0 outside).
@inline(__always)
private func im2col(
    _ x: UnsafePointer<Float>, first: Int, count: Int, _ col: UnsafeMutablePointer<Float>, _ shape: ConvolutionShape
) {
    let (channels, length, kernel, outputLength) = (shape.channels, shape.length, shape.kernel, shape.outputLength)
    let geometry = shape.geometry
    let width = count * outputLength
    for channel in 0..<channels {
        for tap in 0..<kernel {
            let row = col + (channel * kernel + tap) * width
            let shift = tap * geometry.dilation - geometry.padBegin
            for item in 0..<count {
                let source = x + ((first + item) * channels + channel) * length
                let destination = row + item * outputLength
                if geometry.stride == 1 {
                    // Valid t: 0 <= t + shift < length.
                    let low = min(max(0, -shift), outputLength)
                    let high = max(low, min(outputLength, length - shift))
                    destination.initialize(repeating: 0, count: low)
                    (destination + low).update(from: source + low + shift, count: high - low)
                    (destination + high).initialize(repeating: 0, count: outputLength - high)
                } else {
                    for position in 0..<outputLength {
                        let index = position * geometry.stride + shift
                        destination[position] = index >= 0 && index < length ? source[index] : 0
                    }
                }
            }
        }
    }
}

/// y[first + b, m, t] = product[m, b·Lout + t] + bias[m], then the fused Relu. `product` may already be
/// y's slice for a single sample.
@inline(__always)
private func convolutionEpilogue(
    _ product: UnsafeMutablePointer<Float>, first: Int, count: Int, _ bias: UnsafePointer<Float>?,
    _ y: UnsafeMutablePointer<Float>, _ shape: ConvolutionShape
) {
    let (filters, outputLength) = (shape.filters, shape.outputLength)
    let width = count * outputLength
    for item in 0..<count {
        for filter in 0..<filters {
            let source = product + filter * width + item * outputLength
            let destination = y + ((first + item) * filters + filter) * outputLength
            let shift = SIMD16<Float>(repeating: bias?[filter] ?? 0)
            var position = 0
            while position + 16 <= outputLength {
                var vector = loadVector(source + position) + shift
                if shape.relu { vector = pointwiseMax(vector, .zero) }
                storeVector(vector, destination + position)
                position += 16
            }
            while position < outputLength {
                var value = source[position] + shift[0]
                if shape.relu { value = max(value, 0) }
                destination[position] = value
                position += 1
            }
        }
    }
}

/// Where the direct path beats im2col + sgemm: few filters (a skinny sgemm, M ≤ 16, leaves most of OpenBLAS's
/// kernel idle while im2col still copies every tap) and a moderate number of taps. Measured on rr_morph's second
/// convolution (16 → 16 channels, K = 5): 159k → 180k beats/s for the whole model at batch 1024, 129k → 157k at
/// batch 1; at 64 filters (the original model) sgemm stays ahead.
func directConvolutionWins(taps: Int, filters: Int) -> Bool {
    filters <= 16 && taps <= 256
}
