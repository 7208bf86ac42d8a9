import CBLAS
import Foundation
import VectorKernels

// 1-D convolution, [N, C, L] * [M, C, K] (+ bias [M]) -> [N, M, Lout], group 1.
//
// Two paths:
// - direct: stride 1, dilation 1, up to 512 taps (C·K; the first layer on a raw beat, C = 1, K = 5, and the
//   original model's second, C = 32, K = 5). VectorKernels' convolveRows on a zero-padded copy of each sample: SIMD16
//   fused multiply-adds over 16 output positions, four output channels at a time.
// - im2col + sgemm: a chunk of B samples is unrolled into col[C·K, B·Lout], one sgemm computes
//   tmp[M, B·Lout] = W[M, C·K] · col, and the epilogue adds the bias, applies a fused Relu and scatters the
//   chunk back to [B, M, Lout]. Chunks keep col within the caches and are split across workers.

/// Columns (B·Lout) an im2col chunk aims for: wide enough for an efficient sgemm, small enough to stay in cache.
let convolutionChunkColumns = 1024

func convolutionKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    let (x, w) = try context.floatOperands("X", "W")
    let bias = context.optionalInput(2)
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
        && directConvolutionWins(taps: channels * kernel)
    {
        return KernelPlan(outputTypes: [output], kind: .compute(directConvolution(shape, context.kernels)))
    }
    return KernelPlan(outputTypes: [output], kind: .compute(im2colConvolution(shape, context.kernels)))
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

/// A convolution's addresses as floats: X, W, the optional bias, Y.
private func convolutionOperands(_ inputs: [UnsafeMutableRawPointer?], _ outputs: [UnsafeMutableRawPointer]) -> (
    x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>
) {
    let bias = inputs.count > 2 ? inputs[2].map { UnsafePointer($0.floats) } : nil
    return (
        UnsafePointer((inputs[0] ?? outputs[0]).floats), UnsafePointer((inputs[1] ?? outputs[0]).floats), bias,
        outputs[0].floats
    )
}

// MARK: - Direct path

private func directConvolution(_ shape: ConvolutionShape, _ kernels: VectorKernelTable) -> Binder {
    let (channels, length, filters, kernel) = (shape.channels, shape.length, shape.filters, shape.kernel)
    let outputLength = shape.outputLength
    let padBegin = shape.geometry.padBegin
    // One zero-padded copy of a sample per worker: row r covers input positions r - padBegin.
    let rowLength = ConvolutionRows.rowLength(outputLength: outputLength, kernel: kernel)
    let rows = ConvolutionRows(
        channels: channels, filters: filters, kernel: kernel, outputLength: outputLength, rowLength: rowLength,
        relu: shape.relu)
    let scratch = RawBuffer(byteCount: ONNXRuntime.maximumWorkers * channels * rowLength * 4)
    return { inputs, outputs in
        let (x, w, bias, y) = convolutionOperands(inputs, outputs)
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
                    kernels.convolveRows(padded, w, bias, y + sample * filters * outputLength, rows)
                }
            }
            _ = scratch
        }
    }
}

// MARK: - im2col + sgemm path

private func im2colConvolution(_ shape: ConvolutionShape, _ kernels: VectorKernelTable) -> Binder {
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
        let (x, w, bias, y) = convolutionOperands(inputs, outputs)
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
                    convolutionEpilogue(target, first: first, count: count, bias, y, shape, kernels)
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
    _ y: UnsafeMutablePointer<Float>, _ shape: ConvolutionShape, _ kernels: VectorKernelTable
) {
    let (filters, outputLength) = (shape.filters, shape.outputLength)
    let width = count * outputLength
    for item in 0..<count {
        for filter in 0..<filters {
            let source = product + filter * width + item * outputLength
            let destination = y + ((first + item) * filters + filter) * outputLength
            kernels.addScalar(source, bias?[filter] ?? 0, destination, outputLength, shape.relu)
        }
    }
}

/// Where the direct path beats im2col + sgemm: any stride-1 convolution of up to 512 taps. convolveRows runs one
/// loop over all C·K taps with four filters' accumulators, close to the FMA units' rate, and copies nothing but the
/// padded sample, where im2col copies every tap and OpenBLAS packs both operands for a product this small. Measured
/// on the original model (its second convolution, 32 → 64 channels, K = 5, went from sgemm to direct): 1.10x the
/// whole model's beats/s at batch 1024; rr_morph's (16 → 16, K = 5) was direct already.
func directConvolutionWins(taps: Int) -> Bool {
    taps <= 512
}
