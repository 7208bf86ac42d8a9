import Foundation

/// Synthetic single-lead ECG for tests (shared by the signal and stage tests): each beat is a sum of Gaussian P, Q, R, S and T waves, on top of
/// baseline wander and white noise from a seeded generator, so every fixture is reproducible.
public struct SyntheticECG {
    public var samplingRate: Double
    /// Beat times (R peaks), seconds.
    public var beatTimes: [Double]
    public var duration: Double
    /// Per-beat R-wave scale (1 when nil).
    public var amplitudes: [Double]? = nil
    public var noiseAmplitude = 0.02
    public var wanderAmplitude = 0.3
    public var seed: UInt64 = 42

    public init(samplingRate: Double, beatTimes: [Double], duration: Double) {
        self.samplingRate = samplingRate
        self.beatTimes = beatTimes
        self.duration = duration
    }

    /// Beats at a constant rate from 0.5 s to the end.
    public static func regular(samplingRate: Double, beatsPerMinute: Double, duration: Double) -> SyntheticECG {
        let interval = 60 / beatsPerMinute
        let times = stride(from: 0.5, to: duration - 0.5, by: interval).map { $0 }
        return SyntheticECG(samplingRate: samplingRate, beatTimes: times, duration: duration)
    }

    /// Beats after the given RR intervals (seconds), the first at 0.5 s.
    public static func intervals(_ intervals: [Double], samplingRate: Double) -> SyntheticECG {
        var times = [0.5]
        for interval in intervals { times.append((times.last ?? 0) + interval) }
        return SyntheticECG(samplingRate: samplingRate, beatTimes: times, duration: (times.last ?? 0) + 1)
    }

    /// Sample indices of the R peaks.
    public var peakSamples: [Int] { beatTimes.map { Int(($0 * samplingRate).rounded()) } }

    /// The signal in millivolts.
    public func samples() -> [Double] {
        let count = Int(duration * samplingRate)
        var signal = [Double](repeating: 0, count: count)
        // (offset from R in seconds, amplitude in mV, width σ in seconds)
        let waves: [(Double, Double, Double)] = [
            (-0.20, 0.15, 0.025), (-0.03, -0.12, 0.010), (0, 1.2, 0.012), (0.03, -0.25, 0.010), (0.28, 0.35, 0.050),
        ]
        for (beatIndex, time) in beatTimes.enumerated() {
            let scale = amplitudes?[beatIndex] ?? 1
            for (offset, amplitude, width) in waves {
                let centre = (time + offset) * samplingRate
                let reach = Int(5 * width * samplingRate)
                let low = max(0, Int(centre) - reach)
                let high = min(count - 1, Int(centre) + reach)
                guard low <= high else { continue }
                let waveScale = offset == 0 || abs(offset) < 0.05 ? scale : 1
                for index in low...high {
                    let distance = (Double(index) - centre) / (width * samplingRate)
                    signal[index] += waveScale * amplitude * exp(-0.5 * distance * distance)
                }
            }
        }
        var random = FixtureRandom(seed: seed)
        for index in 0..<count {
            let time = Double(index) / samplingRate
            signal[index] += wanderAmplitude * sin(2 * Double.pi * 0.23 * time + 0.4)
            signal[index] += noiseAmplitude * random.nextGaussian()
        }
        return signal
    }
}

/// A small deterministic generator (SplitMix64) with Box–Muller normals.
public struct FixtureRandom {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    public mutating func nextUniform() -> Double { (Double(next() >> 11) + 1) / Double(1 << 53) }

    public mutating func nextGaussian() -> Double {
        (-2 * log(nextUniform())).squareRoot() * cos(2 * Double.pi * nextUniform())
    }
}
