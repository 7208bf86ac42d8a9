import Foundation

/// Learning rate as a function of the (0-based) epoch, PyTorch's schedulers stepped once per epoch.
public enum LearningRateSchedule: Codable, Equatable, Sendable {
    /// The base rate throughout.
    case constant
    /// `StepLR`: base · gamma^⌊epoch / stepSize⌋.
    case step(stepSize: Int, gamma: Double)
    /// `CosineAnnealingLR(T_max: totalEpochs, eta_min: 0)`: base · (1 + cos(π · epoch / totalEpochs)) / 2
    /// (past `totalEpochs` the rate rises again, as PyTorch's does).
    case cosine(totalEpochs: Int)

    /// The rate for `epoch` (0-based) given the base rate.
    public func learningRate(base: Double, epoch: Int) -> Double {
        switch self {
        case .constant:
            return base
        case .step(let stepSize, let gamma):
            return base * pow(gamma, Double(epoch / max(stepSize, 1)))
        case .cosine(let totalEpochs):
            return base * (1 + cos(Double.pi * Double(epoch) / Double(max(totalEpochs, 1)))) / 2
        }
    }
}

/// Adam or AdamW with PyTorch's semantics and defaults (betas 0.9/0.999, eps 1e-8, bias correction).
public struct OptimizerConfig: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable {
        /// `torch.optim.Adam`: weight decay is L2, added to the gradient (grad += wd · param).
        case adam
        /// `torch.optim.AdamW`: decoupled weight decay (param -= lr · wd · param before the Adam update).
        case adamW = "adamw"
    }

    public var kind: Kind
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var weightDecay: Double
    public var schedule: LearningRateSchedule
    /// Clip the global L2 norm of all gradients to this value before the step (`clip_grad_norm_`); nil: no clipping.
    public var gradientClipNorm: Double?

    public init(
        kind: Kind = .adam, learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
        epsilon: Double = 1e-8, weightDecay: Double = 0, schedule: LearningRateSchedule = .constant,
        gradientClipNorm: Double? = nil
    ) {
        self.kind = kind
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.schedule = schedule
        self.gradientClipNorm = gradientClipNorm
    }

    /// The rate for `epoch` (0-based): the schedule applied to the base rate. Training steps and the logged
    /// figures both read it here.
    public func learningRate(epoch: Int) -> Double { schedule.learningRate(base: learningRate, epoch: epoch) }
}

/// Clips gradients to a global L2 norm like `torch.nn.utils.clip_grad_norm_`: every gradient is multiplied by
/// min(1, maxNorm / (norm + 1e-6)). grads: [count]. Returns the norm before clipping.
@discardableResult
func clipGradientNorm(_ grads: UnsafeMutablePointer<Float>, count: Int, maxNorm: Double) -> Double {
    var squares: Double = 0
    for i in 0..<count {
        squares += Double(grads[i]) * Double(grads[i])
    }
    let norm = squares.squareRoot()
    let coefficient = Float(min(1, maxNorm / (norm + 1e-6)))
    if coefficient < 1 {
        for i in 0..<count {
            grads[i] *= coefficient
        }
    }
    return norm
}

/// One Adam/AdamW update over the flat buffers, `step` counted from 1 (PyTorch's `torch.optim.Adam` single-tensor
/// path). params, grads, m, v: [count]; m and v are the first and second moment estimates.
@inline(never)
func adamUpdate(
    params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
    v: UnsafeMutablePointer<Float>, count: Int, step: Int, learningRate: Double, config: OptimizerConfig
) {
    let beta1 = Float(config.beta1)
    let beta2 = Float(config.beta2)
    let biasCorrection1 = 1 - pow(config.beta1, Double(step))
    let biasCorrection2Root = (1 - pow(config.beta2, Double(step))).squareRoot()
    let stepSize = Float(learningRate / biasCorrection1)
    let inverseCorrection2Root = Float(1 / biasCorrection2Root)
    let eps = Float(config.epsilon)
    let decay = Float(config.weightDecay)
    let decoupledFactor = Float(1 - learningRate * config.weightDecay)
    let isAdamW = config.kind == .adamW
    // Sixteen lanes at a time, the blocks split between workers; the last count % 16 elements run scalar.
    let blocks = count / 16
    parallelFor(blocks, grain: 1024) { range in
        for block in range {
            let i = block * 16
            var p = load16(params + i)
            var g = load16(grads + i)
            if isAdamW {
                p *= decoupledFactor
            } else {
                g += decay * p
            }
            let mNew = beta1 * load16(m + i) + (1 - beta1) * g
            let vNew = beta2 * load16(v + i) + (1 - beta2) * g * g
            let denominator = vNew.squareRoot() * inverseCorrection2Root + eps
            p -= stepSize * mNew / denominator
            store16(mNew, m + i)
            store16(vNew, v + i)
            store16(p, params + i)
        }
    }
    var i = blocks * 16
    while i < count {
        var g = grads[i]
        if isAdamW {
            params[i] *= decoupledFactor
        } else {
            g += decay * params[i]
        }
        m[i] = beta1 * m[i] + (1 - beta1) * g
        v[i] = beta2 * v[i] + (1 - beta2) * g * g
        let denominator = v[i].squareRoot() * inverseCorrection2Root + eps
        params[i] -= stepSize * m[i] / denominator
        i += 1
    }
}

@inline(__always)
private func load16(_ pointer: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
private func store16(_ value: SIMD16<Float>, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD16<Float>.self)
}
