import CBLAS
import Foundation
import VectorKernels

// Gemm and MatMul on OpenBLAS. A single-row product goes to sgemv: sgemm would pack the whole weight
// matrix for one row.

/// C[M, N] = alpha * op(A) op(B) + beta * C, row-major, with leading dimensions of the stored matrices.
@inline(__always)
func matrixMultiply(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
        // An empty sum: only the beta * C term is left.
        for row in 0..<m {
            for column in 0..<n { c[row * ldc + column] = beta == 0 ? 0 : beta * c[row * ldc + column] }
        }
        return
    }
    let (lda, ldb) = (max(lda, 1), max(ldb, 1))
    if m == 1 && ldc >= n {
        // y[n] = alpha * op(B)^T a + beta * y; a is one row (or one column of a [K, 1] when transposed).
        let aStride = transposeA ? lda : 1
        if transposeB {
            // B is stored [N, K].
            cblas_sgemv(
                CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), alpha, b, Int32(ldb), a, Int32(aStride), beta, c, 1)
        } else {
            // B is stored [K, N].
            cblas_sgemv(
                CblasRowMajor, CblasTrans, Int32(k), Int32(n), alpha, b, Int32(ldb), a, Int32(aStride), beta, c, 1)
        }
        return
    }
    cblas_sgemm(
        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, Int32(m),
        Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

func gemmKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    let (a, b) = try context.floatOperands("A", "B")
    let c = context.optionalInput(2)
    guard a.type.rank == 2, b.type.rank == 2 else {
        throw context.mismatch("A and B must be matrices, got \(a.type.shape) and \(b.type.shape)")
    }
    let transposeA = try context.attributes.int("transA", default: 0) != 0
    let transposeB = try context.attributes.int("transB", default: 0) != 0
    let alpha = try context.attributes.float("alpha", default: 1)
    let beta = try context.attributes.float("beta", default: 1)
    let (m, k) = transposeA ? (a.type.shape[1], a.type.shape[0]) : (a.type.shape[0], a.type.shape[1])
    let (kB, n) = transposeB ? (b.type.shape[1], b.type.shape[0]) : (b.type.shape[0], b.type.shape[1])
    guard k == kB else {
        throw context.mismatch(
            "A \(a.type.shape)\(transposeA ? "ᵀ" : "") and B \(b.type.shape)\(transposeB ? "ᵀ" : "") do not multiply")
    }
    var biasStrides: [Int]?
    if let c, beta != 0 {
        try context.requireFloat(c, "C")
        guard c.type.rank <= 2, broadcastShape(c.type.shape, [m, n]) == [m, n] else {
            throw context.mismatch("C \(c.type.shape) does not broadcast to [\(m), \(n)]")
        }
        biasStrides = broadcastStrides(c.type.shape, to: [m, n])
    }
    let fuseRelu = context.fuseRelu
    let kernels = context.kernels
    return KernelPlan(
        outputTypes: [ValueType(element: .float32, shape: [m, n])],
        kind: .compute { inputs, outputs in
            let y = outputs[0].floats
            let aPointer = UnsafePointer((inputs[0] ?? outputs[0]).floats)
            let bPointer = UnsafePointer((inputs[1] ?? outputs[0]).floats)
            let cPointer = UnsafePointer(((inputs.count > 2 ? inputs[2] : nil) ?? outputs[0]).floats)
            let lda = a.type.shape[1]
            return {
                // Rows are split across workers; each multiplies its block of A by all of B.
                parallelFor(m, workers: ONNXRuntime.threadCount, minimumPerWorker: 8) { _, rows in
                    if let biasStrides {
                        for row in rows {
                            for column in 0..<n {
                                y[row * n + column] = beta * cPointer[row * biasStrides[0] + column * biasStrides[1]]
                            }
                        }
                    }
                    matrixMultiply(
                        transposeA: transposeA, transposeB: transposeB, m: rows.count, n: n, k: k, alpha: alpha,
                        a: aPointer + (transposeA ? rows.lowerBound : rows.lowerBound * lda), lda: lda, b: bPointer,
                        ldb: b.type.shape[1], beta: biasStrides == nil ? 0 : 1, c: y + rows.lowerBound * n, ldc: n)
                    if fuseRelu { kernels.reluInPlace(y + rows.lowerBound * n, count: rows.count * n) }
                }
            }
        })
}

func matMulKernel(_ context: KernelContext) throws -> KernelPlan {
    try context.limitOutputs(to: 1)
    let (a, b) = try context.floatOperands("A", "B")
    guard a.type.rank >= 1, b.type.rank >= 1 else { throw context.mismatch("MatMul needs operands of rank ≥ 1") }
    // 1-D operands are promoted to matrices and the promoted dimension is dropped from the result.
    let shapeA = a.type.rank == 1 ? [1] + a.type.shape : a.type.shape
    let shapeB = b.type.rank == 1 ? b.type.shape + [1] : b.type.shape
    let (m, k) = (shapeA[shapeA.count - 2], shapeA[shapeA.count - 1])
    let (kB, n) = (shapeB[shapeB.count - 2], shapeB[shapeB.count - 1])
    guard k == kB else { throw context.mismatch("A \(a.type.shape) and B \(b.type.shape) do not multiply") }
    let batchA = Array(shapeA.dropLast(2))
    let batchB = Array(shapeB.dropLast(2))
    guard let batch = broadcastShape(batchA, batchB) else {
        throw context.mismatch("batch dimensions of \(a.type.shape) and \(b.type.shape) do not broadcast")
    }
    var shape = batch + [m, n]
    if a.type.rank == 1 { shape.remove(at: shape.count - 2) }
    if b.type.rank == 1 { shape.removeLast() }
    let batchCount = batch.reduce(1, *)
    let stridesA = broadcastStrides(batchA, to: batch)
    let stridesB = broadcastStrides(batchB, to: batch)
    // With a shared right operand, all of A's rows go through one call.
    let foldsBatch = batchB.reduce(1, *) == 1 && batchA == batch
    return KernelPlan(
        outputTypes: [ValueType(element: .float32, shape: shape)],
        kind: .compute { inputs, outputs in
            let y = outputs[0].floats
            let aPointer = UnsafePointer((inputs[0] ?? outputs[0]).floats)
            let bPointer = UnsafePointer((inputs[1] ?? outputs[0]).floats)
            return {
                if foldsBatch {
                    parallelFor(batchCount * m, workers: ONNXRuntime.threadCount, minimumPerWorker: 8) { _, rows in
                        matrixMultiply(
                            transposeA: false, transposeB: false, m: rows.count, n: n, k: k, alpha: 1,
                            a: aPointer + rows.lowerBound * k, lda: k, b: bPointer, ldb: n, beta: 0,
                            c: y + rows.lowerBound * n, ldc: n)
                    }
                    return
                }
                var index = [Int](repeating: 0, count: batch.count)
                for item in 0..<batchCount {
                    var offsetA = 0
                    var offsetB = 0
                    for dimension in 0..<batch.count {
                        offsetA += index[dimension] * stridesA[dimension]
                        offsetB += index[dimension] * stridesB[dimension]
                    }
                    matrixMultiply(
                        transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: 1, a: aPointer + offsetA * m * k,
                        lda: k, b: bPointer + offsetB * k * n, ldb: n, beta: 0, c: y + item * m * n, ldc: n)
                    var dimension = batch.count - 1
                    while dimension >= 0 {
                        index[dimension] += 1
                        if index[dimension] < batch[dimension] { break }
                        index[dimension] = 0
                        dimension -= 1
                    }
                }
            }
        })
}
