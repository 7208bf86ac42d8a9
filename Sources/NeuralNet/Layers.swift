import CBLAS
import Foundation

// The layers other than Conv1d, each a forward/backward pair of plain functions over raw buffers.
// Backward functions accumulate (`+=`) into their gradient buffers, which the caller zeroes. Each function is
// @inline(never) so a profile shows time per layer; the call costs once per batch, not per element.
//
// Dimension legend:
//   B  batch size       C  channels          L  input length       LO output length
//   K  pool kernel      S  pool stride       F  input features     OF output features
//   N  elements per batch for shape-agnostic layers (B * per-sample count)
//   E  extra features per sample (RR intervals, k values)

// MARK: - MaxPool1d (no padding, floor mode; ties go to the first maximum, as in PyTorch)

/// out: [B, C, LO]; argmax: [B, C, LO] index into the input row of the chosen element; inp: [B, C, L].
@inline(never)
func maxPool1dForward(
    out: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>, inp: UnsafePointer<Float>,
    B: Int, C: Int, L: Int, K: Int, S: Int
) {
    let LO = (L - K) / S + 1
    parallelFor(B * C, grain: 16) { rows in
        for row in rows {
            maxPool1dRow(y: out + row * LO, index: argmax + row * LO, x: inp + row * L, L: L, LO: LO, K: K, S: S)
        }
    }
}

/// One row of max pooling. y: [LO]; index: [LO]; x: [L].
@inline(__always)
private func maxPool1dRow(
    y: UnsafeMutablePointer<Float>, index: UnsafeMutablePointer<Int32>, x: UnsafePointer<Float>, L: Int, LO: Int,
    K: Int, S: Int
) {
    var start = 0
    if K == 2 && S == 2 {
        // The common MaxPool1d(2): eight outputs per step from sixteen inputs split into even and odd halves.
        let lanes = SIMD8<Int32>(0, 2, 4, 6, 8, 10, 12, 14)
        while start + 8 <= LO {
            let pairs = UnsafeRawPointer(x + 2 * start).loadUnaligned(as: SIMD16<Float>.self)
            let even = pairs.evenHalf
            let odd = pairs.oddHalf
            let takeOdd = (odd .> even) .| (odd .!= odd)
            UnsafeMutableRawPointer(y + start).storeBytes(
                of: even.replacing(with: odd, where: takeOdd), as: SIMD8<Float>.self)
            let chosen = lanes &+ Int32(2 * start) &+ SIMD8<Int32>(repeating: 0).replacing(with: 1, where: takeOdd)
            UnsafeMutableRawPointer(index + start).storeBytes(of: chosen, as: SIMD8<Int32>.self)
            start += 8
        }
    }
    for t in start..<LO {
        var best = x[t * S]
        var bestIndex = t * S
        for k in 1..<max(K, 1) {
            let value = x[t * S + k]
            if value > best || value.isNaN {
                best = value
                bestIndex = t * S + k
            }
        }
        y[t] = best
        index[t] = Int32(bestIndex)
    }
}

/// dinp: [B, C, L]; dout: [B, C, LO]; argmax: [B, C, LO] from the forward pass.
@inline(never)
func maxPool1dBackward(
    dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
    B: Int, C: Int, L: Int, LO: Int
) {
    parallelFor(B * C, grain: 16) { rows in
        for row in rows {
            let dx = dinp + row * L  // [L]
            let dy = dout + row * LO  // [LO]
            let index = argmax + row * LO  // [LO]
            for t in 0..<LO {
                dx[Int(index[t])] += dy[t]
            }
        }
    }
}

// MARK: - AvgPool1d (no padding, floor mode)

/// out: [B, C, LO]; inp: [B, C, L].
@inline(never)
func avgPool1dForward(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, B: Int, C: Int, L: Int, K: Int, S: Int
) {
    let LO = (L - K) / S + 1
    let scale = 1 / Float(K)
    for row in 0..<(B * C) {
        let x = inp + row * L  // [L]
        let y = out + row * LO  // [LO]
        for t in 0..<LO {
            var sum: Float = 0
            for k in 0..<K {
                sum += x[t * S + k]
            }
            y[t] = sum * scale
        }
    }
}

/// dinp: [B, C, L]; dout: [B, C, LO].
@inline(never)
func avgPool1dBackward(
    dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, B: Int, C: Int, L: Int, K: Int, S: Int
) {
    let LO = (L - K) / S + 1
    let scale = 1 / Float(K)
    for row in 0..<(B * C) {
        let dx = dinp + row * L  // [L]
        let dy = dout + row * LO  // [LO]
        for t in 0..<LO {
            let g = dy[t] * scale
            for k in 0..<K {
                dx[t * S + k] += g
            }
        }
    }
}

// MARK: - Global average pooling (AdaptiveAvgPool1d(1) + Flatten)

/// out: [B, C]; inp: [B, C, L].
@inline(never)
func globalAvgPoolForward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, B: Int, C: Int, L: Int) {
    let scale = 1 / Float(L)
    for row in 0..<(B * C) {
        let x = inp + row * L  // [L]
        var sum: Float = 0
        for t in 0..<L {
            sum += x[t]
        }
        out[row] = sum * scale
    }
}

/// dinp: [B, C, L]; dout: [B, C].
@inline(never)
func globalAvgPoolBackward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, B: Int, C: Int, L: Int) {
    let scale = 1 / Float(L)
    for row in 0..<(B * C) {
        let dx = dinp + row * L  // [L]
        let g = dout[row] * scale
        for t in 0..<L {
            dx[t] += g
        }
    }
}

// MARK: - ReLU

/// out: [N]; inp: [N].
@inline(never)
func reluForward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, N: Int) {
    parallelFor(N, grain: 4096) { range in
        for i in range {
            out[i] = max(inp[i], 0)
        }
    }
}

/// dinp: [N]; dout: [N]; out: [N] the forward output (its sign gates the gradient).
@inline(never)
func reluBackward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, out: UnsafePointer<Float>, N: Int) {
    parallelFor(N, grain: 4096) { range in
        for i in range {
            dinp[i] += out[i] > 0 ? dout[i] : 0
        }
    }
}

// MARK: - Dropout (inverted: kept elements are scaled by 1 / (1 - p) during training, eval is the identity)

/// out: [N]; mask: [N] 0 or 1/(1-p), drawn from `random` when training; inp: [N].
@inline(never)
func dropoutForward(
    out: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, N: Int,
    probability: Float, training: Bool, random: inout RandomGenerator
) {
    guard training && probability > 0 else {
        out.update(from: inp, count: N)
        mask.update(repeating: 1, count: N)
        return
    }
    fillDropoutMask(mask, N: N, probability: probability, random: &random)
    applyDropoutMask(out: out, mask: mask, inp: inp, N: N)
}

/// mask: [N], each element 0 with `probability`, else 1 / (1 − probability), drawn in order.
func fillDropoutMask(_ mask: UnsafeMutablePointer<Float>, N: Int, probability: Float, random: inout RandomGenerator) {
    let scale = 1 / (1 - probability)
    for i in 0..<N {
        mask[i] = random.nextFloat() < probability ? 0 : scale
    }
}

/// out = inp · mask, element-wise; all [N].
func applyDropoutMask(out: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>, inp: UnsafePointer<Float>, N: Int) {
    for i in 0..<N {
        out[i] = inp[i] * mask[i]
    }
}

/// dinp: [N]; dout: [N]; mask: [N] from the forward pass.
@inline(never)
func dropoutBackward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, mask: UnsafePointer<Float>, N: Int)
{
    for i in 0..<N {
        dinp[i] += dout[i] * mask[i]
    }
}

// MARK: - Linear

/// out: [B, OF]; inp: [B, F]; weight: [OF, F]; bias: [OF].
@inline(never)
func linearForward(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    bias: UnsafePointer<Float>, B: Int, F: Int, OF: Int
) {
    for b in 0..<B {
        (out + b * OF).update(from: bias, count: OF)
    }
    // out [B, OF] += inp [B, F] · weight^T [F, OF]
    cblas_sgemm(
        CblasRowMajor, CblasNoTrans, CblasTrans, Int32(B), Int32(OF), Int32(F),
        1, inp, Int32(F), weight, Int32(F), 1, out, Int32(OF))
}

/// dinp: [B, F] or nil; dweight: [OF, F]; dbias: [OF]; dout: [B, OF]; inp: [B, F]; weight: [OF, F].
@inline(never)
func linearBackward(
    dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
    dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, B: Int, F: Int, OF: Int
) {
    for b in 0..<B {
        let dy = dout + b * OF  // [OF]
        for o in 0..<OF {
            dbias[o] += dy[o]
        }
    }
    // dweight [OF, F] += dout^T [OF, B] · inp [B, F]
    cblas_sgemm(
        CblasRowMajor, CblasTrans, CblasNoTrans, Int32(OF), Int32(F), Int32(B),
        1, dout, Int32(OF), inp, Int32(F), 1, dweight, Int32(F))
    guard let dinp else { return }
    // dinp [B, F] += dout [B, OF] · weight [OF, F]
    cblas_sgemm(
        CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(B), Int32(F), Int32(OF),
        1, dout, Int32(OF), weight, Int32(F), 1, dinp, Int32(F))
}

// MARK: - ConcatFeatures (appends E extra features to each sample's F activations)

/// out: [B, F + E]; inp: [B, F]; features: [B, E].
@inline(never)
func concatFeaturesForward(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, features: UnsafePointer<Float>, B: Int, F: Int, E: Int
) {
    for b in 0..<B {
        (out + b * (F + E)).update(from: inp + b * F, count: F)
        (out + b * (F + E) + F).update(from: features + b * E, count: E)
    }
}

/// dinp: [B, F]; dout: [B, F + E]. The extra features are inputs, so their gradient is dropped.
@inline(never)
func concatFeaturesBackward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, B: Int, F: Int, E: Int) {
    for b in 0..<B {
        let dx = dinp + b * F  // [F]
        let dy = dout + b * (F + E)  // [F + E]
        for i in 0..<F {
            dx[i] += dy[i]
        }
    }
}

// MARK: - BatchNorm1d (statistics per channel over batch and length; L = 1 for flat features)

/// out: [B, C, L]; inp: [B, C, L]; weight, bias: [C]; runningMean, runningVar: [C] (updated when training);
/// mean, rstd: [C] batch statistics saved for the backward pass (running statistics in eval mode).
/// Training normalises with the biased batch variance and moves the running variance towards the unbiased one.
@inline(never)
func batchNorm1dForward(
    out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
    inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>,
    B: Int, C: Int, L: Int, training: Bool, momentum: Float, eps: Float
) {
    let n = B * L
    parallelFor(C) { channels in
        for c in channels {
            if training {
                var sum: Double = 0
                for b in 0..<B {
                    let x = inp + (b * C + c) * L  // [L]
                    for t in 0..<L {
                        sum += Double(x[t])
                    }
                }
                let m = sum / Double(n)
                var squares: Double = 0
                for b in 0..<B {
                    let x = inp + (b * C + c) * L  // [L]
                    for t in 0..<L {
                        let d = Double(x[t]) - m
                        squares += d * d
                    }
                }
                let variance = squares / Double(n)
                let unbiased = n > 1 ? squares / Double(n - 1) : variance
                mean[c] = Float(m)
                rstd[c] = Float(1 / (variance + Double(eps)).squareRoot())
                runningMean[c] = (1 - momentum) * runningMean[c] + momentum * Float(m)
                runningVar[c] = (1 - momentum) * runningVar[c] + momentum * Float(unbiased)
            } else {
                mean[c] = runningMean[c]
                rstd[c] = 1 / (runningVar[c] + eps).squareRoot()
            }
            let scale = rstd[c] * weight[c]
            let shift = bias[c] - mean[c] * scale
            for b in 0..<B {
                let x = inp + (b * C + c) * L  // [L]
                let y = out + (b * C + c) * L  // [L]
                for t in 0..<L {
                    y[t] = x[t] * scale + shift
                }
            }
        }
    }
}

/// dinp: [B, C, L]; dweight, dbias: [C]; dout: [B, C, L]; inp: [B, C, L]; weight: [C];
/// mean, rstd: [C] from a training-mode forward pass.
@inline(never)
func batchNorm1dBackward(
    dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
    dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, B: Int, C: Int, L: Int
) {
    let n = Double(B * L)
    parallelFor(C) { channels in
        for c in channels {
            // Σ dout and Σ dout·xhat over the channel, xhat = (x - mean) · rstd
            var sumDout: Double = 0
            var sumDoutXhat: Double = 0
            for b in 0..<B {
                let x = inp + (b * C + c) * L  // [L]
                let dy = dout + (b * C + c) * L  // [L]
                for t in 0..<L {
                    let xhat = (x[t] - mean[c]) * rstd[c]
                    sumDout += Double(dy[t])
                    sumDoutXhat += Double(dy[t] * xhat)
                }
            }
            dbias[c] += Float(sumDout)
            dweight[c] += Float(sumDoutXhat)
            // dinp = weight·rstd · (dout - mean(dout) - xhat · mean(dout·xhat))
            let meanDout = Float(sumDout / n)
            let meanDoutXhat = Float(sumDoutXhat / n)
            let scale = weight[c] * rstd[c]
            for b in 0..<B {
                let x = inp + (b * C + c) * L  // [L]
                let dy = dout + (b * C + c) * L  // [L]
                let dx = dinp + (b * C + c) * L  // [L]
                for t in 0..<L {
                    let xhat = (x[t] - mean[c]) * rstd[c]
                    dx[t] += scale * (dy[t] - meanDout - xhat * meanDoutXhat)
                }
            }
        }
    }
}

// MARK: - Softmax cross-entropy

/// Forward. probs: [B, NC] softmax of logits; logits: [B, NC]; targets: [B] class indices; classWeights: [NC] or
/// nil. Returns Σ w[y_b]·nll_b and Σ w[y_b]: their ratio is the mean negative log-likelihood, with weights PyTorch's
/// weighted mean.
@inline(never)
func crossEntropySums(
    probs: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
    classWeights: UnsafePointer<Float>?, B: Int, NC: Int
) -> (Double, Double) {
    var total: Double = 0
    var weightSum: Double = 0
    for b in 0..<B {
        let z = logits + b * NC  // [NC]
        let p = probs + b * NC  // [NC]
        var maxLogit = z[0]
        for i in 1..<max(NC, 1) {
            maxLogit = max(maxLogit, z[i])
        }
        var sum: Float = 0
        for i in 0..<NC {
            p[i] = (z[i] - maxLogit).exponential
            sum += p[i]
        }
        for i in 0..<NC {
            p[i] /= sum
        }
        let y = Int(targets[b])
        let nll = Double(maxLogit - z[y] + sum.logarithm)
        let w = Double(classWeights?[y] ?? 1)
        total += w * nll
        weightSum += w
    }
    return (total, weightSum)
}

/// Σ w[y] over targets [B] (1 per sample without weights), in sample order.
func classWeightSum(targets: UnsafePointer<Int32>, classWeights: UnsafePointer<Float>?, B: Int) -> Float {
    var sum: Float = 0
    for b in 0..<B {
        sum += classWeights?[Int(targets[b])] ?? 1
    }
    return sum
}

/// Backward. dlogits: [B, NC] += ∂loss/∂logits = (probs - onehot(y)) · w[y] / Σ w; probs: [B, NC]; targets: [B].
/// `weightSum`: Σ w over the whole batch these B samples belong to (`classWeightSum`).
@inline(never)
func crossEntropyBackward(
    dlogits: UnsafeMutablePointer<Float>, probs: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
    classWeights: UnsafePointer<Float>?, B: Int, NC: Int, weightSum: Float
) {
    for b in 0..<B {
        let y = Int(targets[b])
        let scale = (classWeights?[y] ?? 1) / weightSum
        let p = probs + b * NC  // [NC]
        let dz = dlogits + b * NC  // [NC]
        for i in 0..<NC {
            dz[i] += (p[i] - (i == y ? 1 : 0)) * scale
        }
    }
}

extension Float {
    @inline(__always) fileprivate var exponential: Float { Float(exp(Double(self))) }
    @inline(__always) fileprivate var logarithm: Float { Float(log(Double(self))) }
}
