import Foundation

/// The MIT-BIH Noise Stress Test (Moody, Muldrow and Mark 1984; WFDB `nst` and `sigamp`), on samples in memory.
///
/// A noise record is scaled so that its RMS amplitude stands in a chosen ratio to the clean record's QRS
/// amplitude, and added to the clean record in bursts: none for the first five minutes (the detector's
/// learning period, which `bxb` leaves out), then two minutes of noise and two minutes clean, alternately, to
/// the end.
///
/// The amplitudes are measured as `sigamp` does, both as trimmed means (the largest and the smallest 5 % of
/// the measurements left out) of at most 300 measurements from the start of the record:
/// - the QRS amplitude is the peak-to-peak range of the clean signal within 50 ms of each normal beat;
/// - the noise amplitude is the RMS, about its own mean, of each consecutive second of the noise.
///
/// The SNR S in dB fixes the ratio of the noise's RMS to the QRS peak-to-peak amplitude at 10^(−S/20)·√2/4, as in
/// `nst`: for a sine wave, whose RMS is its peak-to-peak amplitude times √2/4, S is the usual power ratio.
public enum NoiseStressTest {
    /// `sigamp`'s default number of measurements.
    public static let measurementLimit = 300
    /// Half-width of the QRS amplitude window around a beat, seconds.
    public static let qrsHalfWindow = 0.050
    /// The clean lead-in, then the length of each noisy and each clean stretch, seconds.
    public static let cleanStart = 300.0
    public static let burstLength = 120.0

    /// The mean of `values` without their largest and smallest 5 % (`sigamp`'s trimmed mean); nil when empty.
    public static func trimmedMean(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let trim = sorted.count / 20
        let kept = sorted[trim..<(sorted.count - trim)]
        return kept.reduce(0, +) / Double(kept.count)
    }

    /// The QRS amplitude of `signal`: the trimmed mean of the peak-to-peak ranges within `qrsHalfWindow` of the
    /// first `measurementLimit` of `normalBeats` (sample indices). NaN samples are skipped; nil when no window
    /// holds a valid sample.
    public static func qrsAmplitude(signal: [Double], normalBeats: [Int], samplingRate: Double) -> Double? {
        let radius = Int((qrsHalfWindow * samplingRate).rounded())
        var ranges: [Double] = []
        for beat in normalBeats.sorted() where ranges.count < measurementLimit {
            let window = max(0, beat - radius)..<min(signal.count, beat + radius)
            let valid = signal[window].filter { !$0.isNaN }
            guard let low = valid.min(), let high = valid.max() else { continue }
            ranges.append(high - low)
        }
        return trimmedMean(ranges)
    }

    /// The RMS amplitude of `noise`: the trimmed mean, over its first `measurementLimit` whole seconds, of the
    /// RMS of each second about that second's mean. Nil when the noise is shorter than a second.
    public static func noiseAmplitude(noise: [Double], samplingRate: Double) -> Double? {
        let second = max(1, Int(samplingRate.rounded()))
        var amplitudes: [Double] = []
        var start = 0
        while start + second <= noise.count && amplitudes.count < measurementLimit {
            let window = noise[start..<(start + second)].filter { !$0.isNaN }
            if !window.isEmpty {
                let mean = window.reduce(0, +) / Double(window.count)
                let power = window.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(window.count)
                amplitudes.append(power.squareRoot())
            }
            start += second
        }
        return trimmedMean(amplitudes)
    }

    /// The factor that scales noise of RMS `noiseAmplitude` to `snr` dB below a QRS of peak-to-peak `qrsAmplitude`.
    public static func noiseScale(snr: Double, qrsAmplitude: Double, noiseAmplitude: Double) -> Double {
        pow(10, -snr / 20) * 2.0.squareRoot() / 4 * qrsAmplitude / noiseAmplitude
    }

    /// The sample ranges that receive noise in a record of `count` samples: from `cleanStart` on, every other
    /// `burstLength`, the last one cut at the end of the record.
    public static func noisyStretches(count: Int, samplingRate: Double) -> [Range<Int>] {
        let start = Int((cleanStart * samplingRate).rounded())
        let burst = max(1, Int((burstLength * samplingRate).rounded()))
        var stretches: [Range<Int>] = []
        var low = start
        while low < count {
            stretches.append(low..<min(count, low + burst))
            low += 2 * burst
        }
        return stretches
    }

    /// `clean` with `scale` × `noise` added inside `stretches` (sample for sample; the noise repeats from its
    /// start when it is shorter than the record, as in `nst`). A NaN in either input gives NaN.
    public static func addNoise(clean: [Double], noise: [Double], scale: Double, stretches: [Range<Int>]) -> [Double] {
        var result = clean
        guard !noise.isEmpty else { return result }
        for stretch in stretches {
            for index in stretch.clamped(to: 0..<clean.count) {
                result[index] = clean[index] + scale * noise[index % noise.count]
            }
        }
        return result
    }
}
