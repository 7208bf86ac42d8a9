// The ONNX runtime's hot loops, written once and compiled once per instruction set.
//
// Each loop is generic over a phantom `InstructionSet`: a target compiled for that instruction set (its own
// `-target-cpu`) calls it with its own marker type, so the optimizer specializes the body inside that target,
// under its flags, and under a symbol name no other target's code shares (the linker cannot fold the AVX-512
// specialization into the baseline's). The arithmetic is the same on every path, one SIMD16<Float> per step (two
// YMM registers under AVX2, one ZMM under AVX-512), so the paths agree to the bit.
//
// Dimension legend: C input channels, M filters (output channels), K taps per channel, T output positions,
// R the padded row length of a convolution's input copy.

/// A marker for one instruction set's specializations of the kernels.
public protocol InstructionSet {
    /// Its name in `pipe --version --verbose` and in test messages.
    static var name: String { get }
    /// The direct convolution keeps two vectors of output positions per filter in flight (eight accumulators for a
    /// block of four filters) instead of one: with 32 vector registers there is room, and four chains of 512-bit
    /// FMAs alone leave Zen 4's pipes waiting on each result (they ran rr_morph 15 % slower than AVX2's eight
    /// 256-bit chains; with eight, 1.27x faster than with four). A computed property, so that each specialization
    /// folds it away.
    static var twoVectorsPerFilter: Bool { get }
}

/// Floats per SIMD step of every kernel.
public let vectorLanes = 16

/// The shape of a direct 1-D convolution, stride 1, over zero-padded input rows.
public struct ConvolutionRows: Sendable {
    public let channels: Int
    public let filters: Int
    public let kernel: Int
    public let outputLength: Int
    /// R: floats from one channel's padded row to the next; at least T rounded up to 32, + K - 1.
    public let rowLength: Int
    public let relu: Bool
    /// Where tap c·K + k reads, from an output position's own place: c·R + k. One loop over all C·K taps
    /// keeps the accumulators busy where a loop of K = 5 taps inside a loop over channels stalls at every exit.
    public let tapOffsets: [Int]

    public init(channels: Int, filters: Int, kernel: Int, outputLength: Int, rowLength: Int, relu: Bool) {
        (self.channels, self.filters, self.kernel) = (channels, filters, kernel)
        (self.outputLength, self.rowLength, self.relu) = (outputLength, rowLength, relu)
        tapOffsets = (0..<channels).flatMap { channel in (0..<kernel).map { channel * rowLength + $0 } }
    }

    /// The shortest row length the kernel accepts for T and K on every instruction set (T rounded up to two
    /// vectors).
    public static func rowLength(outputLength: Int, kernel: Int) -> Int {
        let step = 2 * vectorLanes
        return (outputLength + step - 1) / step * step + kernel - 1
    }
}

/// The kernels of one instruction set, as function values the runtime binds once.
public struct VectorKernelTable: Sendable {
    public let name: String
    /// y[M, T] = bias[m] + Σ_c Σ_k w[m, c, k] · padded[c, t + k], then the fused Relu. padded: [C, R], w: [M, C·K].
    public let convolveRows:
        @Sendable (
            _ padded: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
            _ y: UnsafeMutablePointer<Float>, _ shape: ConvolutionRows
        ) -> Void
    /// y[i] = x[i] + shift for i < count, then max(·, 0) when `relu`; x and y may be the same.
    public let addScalar:
        @Sendable (
            _ x: UnsafePointer<Float>, _ shift: Float, _ y: UnsafeMutablePointer<Float>, _ count: Int, _ relu: Bool
        ) -> Void
    /// y[i] = max(x[2i], x[2i + 1]) for i < count: MaxPool with window 2, stride 2.
    public let maxPairs: @Sendable (_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) -> Void
    /// y[r] = mean of x[r·n ..< (r + 1)·n] for r < rows: GlobalAveragePool.
    public let rowMeans:
        @Sendable (_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ rows: Int, _ n: Int) -> Void

    /// The kernels specialized for `I` in the calling target.
    @inlinable
    public init<I: InstructionSet>(_ set: I.Type) {
        name = I.name
        convolveRows = { padded, w, bias, y, shape in convolveRowsBody(I.self, padded, w, bias, y, shape) }
        addScalar = { x, shift, y, count, relu in addScalarBody(I.self, x, shift, y, count, relu) }
        maxPairs = { x, y, count in maxPairsBody(I.self, x, y, count) }
        rowMeans = { x, y, rows, n in rowMeansBody(I.self, x, y, rows, n) }
    }
}

@inlinable @inline(__always)
func load(_ pointer: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Float>.self)
}

@inlinable @inline(__always)
func store(_ vector: SIMD16<Float>, _ pointer: UnsafeMutablePointer<Float>, count: Int = vectorLanes) {
    if count >= vectorLanes {
        UnsafeMutableRawPointer(pointer).storeBytes(of: vector, as: SIMD16<Float>.self)
    } else {
        for lane in 0..<count { pointer[lane] = vector[lane] }
    }
}

/// Four filters at a time, 16 output positions per step (32 where `I.twoVectorsPerFilter`): per tap, one input
/// vector (two) and four broadcast weights feed four (eight) fused multiply-adds. Every output sums its taps in
/// the same order either way. A last block of fewer than four filters reads filter 0's weights in the missing
/// places and stores nothing for them.
@inlinable
func convolveRowsBody<I: InstructionSet>(
    _: I.Type, _ padded: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
    _ y: UnsafeMutablePointer<Float>, _ shape: ConvolutionRows
) {
    let (filters, outputLength, taps) = (shape.filters, shape.outputLength, shape.channels * shape.kernel)
    // No closure here (withUnsafeBufferPointer's would be one): a closure that does not use `I` is not specialized
    // per instruction set, and its one body, compiled for the baseline, would run on every path.
    let offsets = shape.tapOffsets
    var filter = 0
    while filter < filters {
        let block = min(4, filters - filter)
        // w rows of the block's filters: [taps] each; absent ones alias the first.
        let w0 = w + filter * taps
        let w1 = block > 1 ? w0 + taps : w0
        let w2 = block > 2 ? w0 + 2 * taps : w0
        let w3 = block > 3 ? w0 + 3 * taps : w0
        let b0 = SIMD16<Float>(repeating: bias?[filter] ?? 0)
        let b1 = SIMD16<Float>(repeating: bias?[filter + min(1, block - 1)] ?? 0)
        let b2 = SIMD16<Float>(repeating: bias?[filter + min(2, block - 1)] ?? 0)
        let b3 = SIMD16<Float>(repeating: bias?[filter + min(3, block - 1)] ?? 0)
        let two = I.twoVectorsPerFilter
        var start = 0
        while start < outputLength {
            var (a0, a1, a2, a3) = (b0, b1, b2, b3)
            var (c0, c1, c2, c3) = (b0, b1, b2, b3)
            let origin = padded + start
            for tap in offsets.indices {
                let input = load(origin + offsets[tap])
                let (v0, v1, v2, v3) = (
                    SIMD16(repeating: w0[tap]), SIMD16(repeating: w1[tap]), SIMD16(repeating: w2[tap]),
                    SIMD16(repeating: w3[tap])
                )
                a0.addProduct(v0, input)
                a1.addProduct(v1, input)
                a2.addProduct(v2, input)
                a3.addProduct(v3, input)
                if two {
                    let next = load(origin + offsets[tap] + vectorLanes)
                    c0.addProduct(v0, next)
                    c1.addProduct(v1, next)
                    c2.addProduct(v2, next)
                    c3.addProduct(v3, next)
                }
            }
            let destination = y + filter * outputLength + start
            storeBlock((a0, a1, a2, a3), destination, outputLength - start, block, shape)
            if two && outputLength - start > vectorLanes {
                storeBlock(
                    (c0, c1, c2, c3), destination + vectorLanes, outputLength - start - vectorLanes, block, shape)
            }
            start += two ? 2 * vectorLanes : vectorLanes
        }
        filter += block
    }
}

/// Stores one step of a filter block: `block` rows of `shape.outputLength`, the first `remaining` lanes of each,
/// after the fused Relu.
@inlinable @inline(__always)
func storeBlock(
    _ vectors: (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>), _ destination: UnsafeMutablePointer<Float>,
    _ remaining: Int, _ block: Int, _ shape: ConvolutionRows
) {
    var (a0, a1, a2, a3) = vectors
    if shape.relu {
        (a0, a1, a2, a3) = (
            pointwiseMax(a0, .zero), pointwiseMax(a1, .zero), pointwiseMax(a2, .zero), pointwiseMax(a3, .zero)
        )
    }
    let stride = shape.outputLength
    store(a0, destination, count: remaining)
    if block > 1 { store(a1, destination + stride, count: remaining) }
    if block > 2 { store(a2, destination + 2 * stride, count: remaining) }
    if block > 3 { store(a3, destination + 3 * stride, count: remaining) }
}

@inlinable
func addScalarBody<I: InstructionSet>(
    _: I.Type, _ x: UnsafePointer<Float>, _ shift: Float, _ y: UnsafeMutablePointer<Float>, _ count: Int,
    _ relu: Bool
) {
    let vectorShift = SIMD16<Float>(repeating: shift)
    var index = 0
    while index + vectorLanes <= count {
        var vector = load(x + index) + vectorShift
        if relu { vector = pointwiseMax(vector, .zero) }
        store(vector, y + index)
        index += vectorLanes
    }
    while index < count {
        let value = x[index] + shift
        y[index] = relu ? max(value, 0) : value
        index += 1
    }
}

/// A plain loop: LLVM vectorizes it with interleaved loads for the target's own vector width (SIMD32's even and
/// odd halves lane by lane were 14 times slower).
@inlinable
func maxPairsBody<I: InstructionSet>(
    _: I.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int
) {
    for index in 0..<count { y[index] = max(x[2 * index], x[2 * index + 1]) }
}

/// Sums in 16 lanes, then across them: no chain of one addition waiting on the last through every element.
@inlinable
func rowMeansBody<I: InstructionSet>(
    _: I.Type, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ rows: Int, _ n: Int
) {
    guard n > 0 else {
        y.update(repeating: 0, count: rows)
        return
    }
    for row in 0..<rows {
        let source = x + row * n
        var lanes = SIMD16<Float>.zero
        var index = 0
        while index + vectorLanes <= n {
            lanes += load(source + index)
            index += vectorLanes
        }
        // A fixed tree across the lanes (halves, then quarters…), the same on every instruction set.
        let eight = lanes.lowHalf + lanes.highHalf
        let four = eight.lowHalf + eight.highHalf
        let two = four.lowHalf + four.highHalf
        var sum = two[0] + two[1]
        while index < n {
            sum += source[index]
            index += 1
        }
        y[row] = sum / Float(n)
    }
}
