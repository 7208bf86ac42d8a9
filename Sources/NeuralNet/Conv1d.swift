import CBLAS

// Conv1d, PyTorch semantics (cross-correlation, zero padding on both sides).
//
// Dimension legend:
//   B  batch size            C  input channels        L  input length
//   OC output channels       K  kernel size           S  stride          P  padding
//   LO output length = (L + 2P - K) / S + 1
//
// General path: im2col into `col` [C*K, B*LO], one sgemm for the whole batch into `tmp` [OC, B*LO], then a scatter
// into [B, OC, LO] with the bias. The first layer of an ECG model has C = 1 and a short kernel, a shape on which
// OpenBLAS is slow, so C = 1 with S = 1 runs a hand-written SIMD16 loop instead (FMA under -target-cpu x86-64-v3).

/// Forward. out: [B, OC, LO] (overwritten); inp: [B, C, L]; weight: [OC, C, K]; bias: [OC];
/// col: [C*K, B*LO] scratch, kept for the backward pass; tmp: [OC, B*LO] scratch.
@inline(never)
func conv1dForward(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    bias: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>, tmp: UnsafeMutablePointer<Float>,
    B: Int, C: Int, L: Int, OC: Int, K: Int, S: Int, P: Int
) {
    let LO = (L + 2 * P - K) / S + 1
    if C == 1 && S == 1 {
        conv1dSingleChannelForward(out: out, inp: inp, weight: weight, bias: bias, B: B, L: L, OC: OC, K: K, P: P)
        return
    }
    im2col(col: col, inp: inp, B: B, C: C, L: L, K: K, S: S, P: P, LO: LO)
    let n = B * LO
    // tmp [OC, B*LO] = weight [OC, C*K] · col [C*K, B*LO]
    cblas_sgemm(
        CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(OC), Int32(n), Int32(C * K),
        1, weight, Int32(C * K), col, Int32(n), 0, tmp, Int32(n))
    parallelFor(B) { samples in
        for b in samples {
            for o in 0..<OC {
                let src = tmp + o * n + b * LO  // [LO]
                let dst = out + (b * OC + o) * LO  // [LO]
                let bo = bias[o]
                for t in 0..<LO {
                    dst[t] = src[t] + bo
                }
            }
        }
    }
}

/// Backward, accumulating. dinp: [B, C, L] or nil (first layer); dweight: [OC, C, K]; dbias: [OC];
/// dout: [B, OC, LO]; inp: [B, C, L]; weight: [OC, C, K]; col: [C*K, B*LO] as left by the forward pass (reused as
/// dcol); tmp: [OC, B*LO] scratch.
@inline(never)
func conv1dBackward(
    dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
    dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    col: UnsafeMutablePointer<Float>, tmp: UnsafeMutablePointer<Float>,
    B: Int, C: Int, L: Int, OC: Int, K: Int, S: Int, P: Int
) {
    let LO = (L + 2 * P - K) / S + 1
    if C == 1 && S == 1 {
        conv1dSingleChannelBackward(
            dinp: dinp, dweight: dweight, dbias: dbias, dout: dout, inp: inp, weight: weight,
            B: B, L: L, OC: OC, K: K, P: P)
        return
    }
    let n = B * LO
    // tmp [OC, B*LO] = dout [B, OC, LO] transposed per sample; dbias [OC] += row sums
    parallelFor(OC) { channels in
        for o in channels {
            var sum: Float = 0
            for b in 0..<B {
                let src = dout + (b * OC + o) * LO  // [LO]
                let dst = tmp + o * n + b * LO  // [LO]
                for t in 0..<LO {
                    dst[t] = src[t]
                    sum += src[t]
                }
            }
            dbias[o] += sum
        }
    }
    // dweight [OC, C*K] += tmp [OC, B*LO] · col^T [B*LO, C*K]
    cblas_sgemm(
        CblasRowMajor, CblasNoTrans, CblasTrans, Int32(OC), Int32(C * K), Int32(n),
        1, tmp, Int32(n), col, Int32(n), 1, dweight, Int32(C * K))
    guard let dinp else { return }
    // dcol [C*K, B*LO] = weight^T [C*K, OC] · tmp [OC, B*LO], written over col
    cblas_sgemm(
        CblasRowMajor, CblasTrans, CblasNoTrans, Int32(C * K), Int32(n), Int32(OC),
        1, weight, Int32(C * K), tmp, Int32(n), 0, col, Int32(n))
    col2imAccumulate(dinp: dinp, dcol: col, B: B, C: C, L: L, K: K, S: S, P: P, LO: LO)
}

/// col [C*K, B*LO]: col[c*K + k, b*LO + t] = inp[b, c, t*S + k - P], zero outside the input.
@inline(never)
private func im2col(
    col: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, B: Int, C: Int, L: Int, K: Int, S: Int, P: Int,
    LO: Int
) {
    parallelFor(C) { channels in
        for c in channels {
            im2colChannel(col: col, inp: inp, c: c, B: B, C: C, L: L, K: K, S: S, P: P, LO: LO)
        }
    }
}

/// The K rows of col that input channel c fills. col: [C*K, B*LO]; inp: [B, C, L].
@inline(__always)
private func im2colChannel(
    col: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, c: Int, B: Int, C: Int, L: Int, K: Int, S: Int,
    P: Int, LO: Int
) {
    let n = B * LO
    for k in 0..<K {
        for b in 0..<B {
            let dst = col + (c * K + k) * n + b * LO  // [LO]
            let src = inp + (b * C + c) * L  // [L]
            let (first, end) = validOutputRange(k: k, L: L, S: S, P: P, LO: LO)
            if first > 0 { dst.update(repeating: 0, count: first) }
            if S == 1 {
                if end > first { dst.advanced(by: first).update(from: src + (first + k - P), count: end - first) }
            } else {
                for t in first..<max(first, end) {
                    dst[t] = src[t * S + k - P]
                }
            }
            if end < LO { dst.advanced(by: max(end, first)).update(repeating: 0, count: LO - max(end, first)) }
        }
    }
}

/// dinp [B, C, L] += the columns of dcol [C*K, B*LO] folded back onto the input positions they were copied from.
@inline(never)
private func col2imAccumulate(
    dinp: UnsafeMutablePointer<Float>, dcol: UnsafePointer<Float>, B: Int, C: Int, L: Int, K: Int, S: Int, P: Int,
    LO: Int
) {
    let n = B * LO
    parallelFor(B) { samples in
        for b in samples {
            col2imSample(dinp: dinp, dcol: dcol, b: b, n: n, C: C, L: L, K: K, S: S, P: P, LO: LO)
        }
    }
}

/// Folds sample b's columns back. dinp: [B, C, L]; dcol: [C*K, n].
@inline(__always)
private func col2imSample(
    dinp: UnsafeMutablePointer<Float>, dcol: UnsafePointer<Float>, b: Int, n: Int, C: Int, L: Int, K: Int, S: Int,
    P: Int, LO: Int
) {
    for c in 0..<C {
        let dst = dinp + (b * C + c) * L  // [L]
        for k in 0..<K {
            let src = dcol + (c * K + k) * n + b * LO  // [LO]
            let (first, end) = validOutputRange(k: k, L: L, S: S, P: P, LO: LO)
            if S == 1 {
                let shifted = dst + (k - P)
                for t in first..<max(first, end) {
                    shifted[t] += src[t]
                }
            } else {
                for t in first..<max(first, end) {
                    dst[t * S + k - P] += src[t]
                }
            }
        }
    }
}

/// The output positions t in first..<end whose input index t*S + k - P lies inside [0, L).
private func validOutputRange(k: Int, L: Int, S: Int, P: Int, LO: Int) -> (Int, Int) {
    // t*S + k - P >= 0  ⇔  t >= ceil((P - k) / S);  t*S + k - P <= L - 1  ⇔  t <= floor((L - 1 + P - k) / S)
    let first = P - k > 0 ? (P - k + S - 1) / S : 0
    let lastIndex = L - 1 + P - k
    let end = lastIndex < 0 ? 0 : min(LO, lastIndex / S + 1)
    return (min(first, LO), end)
}

// MARK: - C = 1, S = 1: SIMD16 kernels

private typealias Vector = SIMD16<Float>

@inline(__always)
private func load(_ pointer: UnsafePointer<Float>) -> Vector {
    UnsafeRawPointer(pointer).loadUnaligned(as: Vector.self)
}

@inline(__always)
private func store(_ value: Vector, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Vector.self)
}

/// Calls `body` with the zero-padded sample `b`: xpad [L + 2P + 16], xpad[P + i] = inp[b, 0, i].
@inline(__always)
private func withPaddedRow(
    _ inp: UnsafePointer<Float>, b: Int, L: Int, P: Int, _ body: (UnsafeMutablePointer<Float>) -> Void
) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: L + 2 * P + 16) { buffer in
        guard let xpad = buffer.baseAddress else { return }
        xpad.initialize(repeating: 0, count: buffer.count)
        (xpad + P).update(from: inp + b * L, count: L)
        body(xpad)
    }
}

/// out: [B, OC, LO]; inp: [B, 1, L]; weight: [OC, 1, K]; bias: [OC]; LO = L + 2P - K + 1.
@inline(never)
private func conv1dSingleChannelForward(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    bias: UnsafePointer<Float>, B: Int, L: Int, OC: Int, K: Int, P: Int
) {
    let LO = L + 2 * P - K + 1
    let vectorEnd = LO - LO % 16
    parallelFor(B) { samples in
        for b in samples {
            conv1dSingleChannelForwardSample(
                out: out, inp: inp, weight: weight, bias: bias, b: b, L: L, OC: OC, K: K, P: P, LO: LO,
                vectorEnd: vectorEnd)
        }
    }
}

/// Sample b of the single-channel forward pass. out: [B, OC, LO]; inp: [B, 1, L].
@inline(__always)
private func conv1dSingleChannelForwardSample(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    bias: UnsafePointer<Float>, b: Int, L: Int, OC: Int, K: Int, P: Int, LO: Int, vectorEnd: Int
) {
    withPaddedRow(inp, b: b, L: L, P: P) { xpad in
        for o in 0..<OC {
            let w = weight + o * K  // [K]
            let dst = out + (b * OC + o) * LO  // [LO]
            var t = 0
            while t < vectorEnd {
                var acc = Vector(repeating: bias[o])
                for k in 0..<K {
                    acc.addProduct(Vector(repeating: w[k]), load(xpad + t + k))
                }
                store(acc, dst + t)
                t += 16
            }
            while t < LO {
                var acc = bias[o]
                for k in 0..<K {
                    acc += w[k] * xpad[t + k]
                }
                dst[t] = acc
                t += 1
            }
        }
    }
}

/// dinp: [B, 1, L] or nil; dweight: [OC, 1, K]; dbias: [OC]; dout: [B, OC, LO]; inp: [B, 1, L]; weight: [OC, 1, K].
@inline(never)
private func conv1dSingleChannelBackward(
    dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
    dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    B: Int, L: Int, OC: Int, K: Int, P: Int
) {
    let LO = L + 2 * P - K + 1
    let vectorEnd = LO - LO % 16
    // Split over output channels: each worker owns its rows of dweight and dbias and sums samples in order.
    parallelFor(OC) { channels in
        for b in 0..<B {
            conv1dSingleChannelWeightGradients(
                dweight: dweight, dbias: dbias, dout: dout, inp: inp, b: b, channels: channels, L: L, OC: OC, K: K,
                P: P, LO: LO, vectorEnd: vectorEnd)
        }
    }
    conv1dSingleChannelInputGradient(dinp: dinp, dout: dout, weight: weight, B: B, L: L, OC: OC, K: K, P: P, LO: LO)
}

/// Sample b's contribution to dweight and dbias for output channels `channels`. dweight: [OC, 1, K]; dbias: [OC];
/// dout: [B, OC, LO]; inp: [B, 1, L].
@inline(__always)
private func conv1dSingleChannelWeightGradients(
    dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
    inp: UnsafePointer<Float>, b: Int, channels: Range<Int>, L: Int, OC: Int, K: Int, P: Int, LO: Int, vectorEnd: Int
) {
    withPaddedRow(inp, b: b, L: L, P: P) { xpad in
        for o in channels {
            let d = dout + (b * OC + o) * LO  // [LO]
            var biasAcc = Vector()
            var t = 0
            while t < vectorEnd {
                biasAcc += load(d + t)
                t += 16
            }
            var biasSum = biasAcc.sum()
            while t < LO {
                biasSum += d[t]
                t += 1
            }
            dbias[o] += biasSum
            for k in 0..<K {
                var acc = Vector()
                var t = 0
                while t < vectorEnd {
                    acc.addProduct(load(d + t), load(xpad + t + k))
                    t += 16
                }
                var sum = acc.sum()
                while t < LO {
                    sum += d[t] * xpad[t + k]
                    t += 1
                }
                dweight[o * K + k] += sum
            }
        }
    }
}

/// dinp: [B, 1, L] or nil; dout: [B, OC, LO]; weight: [OC, 1, K].
/// dinp[b, i] += Σ_o Σ_k weight[o, k] · dout[b, o, i + P - k]; only a non-first layer needs this (the tests do).
private func conv1dSingleChannelInputGradient(
    dinp: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    B: Int, L: Int, OC: Int, K: Int, P: Int, LO: Int
) {
    guard let dinp else { return }
    for b in 0..<B {
        for o in 0..<OC {
            let d = dout + (b * OC + o) * LO  // [LO]
            for k in 0..<K {
                let w = weight[o * K + k]
                for t in 0..<LO {
                    let i = t + k - P
                    if i >= 0 && i < L {
                        dinp[b * L + i] += w * d[t]
                    }
                }
            }
        }
    }
}
