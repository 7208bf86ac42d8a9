import Foundation

/// One second-order IIR section in transposed direct form II, normalised so that a0 = 1.
///
/// The detector and the baseline remover are built from these because a cascade of biquads designed by
/// the bilinear transform works at any sampling rate, where the integer-coefficient filters of the
/// original Pan–Tompkins paper only work at 200 Hz.
public struct BiquadFilter: Equatable, Sendable {
    public var b0: Double
    public var b1: Double
    public var b2: Double
    public var a1: Double
    public var a2: Double

    /// A second-order Butterworth low-pass with its −3 dB point at `cutoff` Hz (bilinear transform with
    /// pre-warping, Q = 1/√2).
    public static func butterworthLowPass(cutoff: Double, samplingRate: Double) -> BiquadFilter {
        let (alpha, cosine, a0) = butterworthTerms(cutoff: cutoff, samplingRate: samplingRate)
        return BiquadFilter(
            b0: (1 - cosine) / 2 / a0, b1: (1 - cosine) / a0, b2: (1 - cosine) / 2 / a0,
            a1: -2 * cosine / a0, a2: (1 - alpha) / a0)
    }

    /// A second-order Butterworth high-pass with its −3 dB point at `cutoff` Hz.
    public static func butterworthHighPass(cutoff: Double, samplingRate: Double) -> BiquadFilter {
        let (alpha, cosine, a0) = butterworthTerms(cutoff: cutoff, samplingRate: samplingRate)
        return BiquadFilter(
            b0: (1 + cosine) / 2 / a0, b1: -(1 + cosine) / a0, b2: (1 + cosine) / 2 / a0,
            a1: -2 * cosine / a0, a2: (1 - alpha) / a0)
    }

    /// The bilinear transform's terms for a Butterworth section (Q = 1/√2) at `cutoff` Hz, pre-warped; the
    /// cutoff is kept below Nyquist.
    private static func butterworthTerms(cutoff: Double, samplingRate: Double) -> (
        alpha: Double, cosine: Double, a0: Double
    ) {
        let omega = 2 * Double.pi * min(cutoff, samplingRate * 0.49) / samplingRate
        let alpha = sin(omega) / (2 * (1 / 2.0.squareRoot()))
        return (alpha, cos(omega), 1 + alpha)
    }

    /// The gain at 0 Hz; used to start the filter in the steady state of the first sample, so a signal
    /// that starts far from zero does not ring for seconds at the start of a record.
    var directCurrentGain: Double {
        let denominator = 1 + a1 + a2
        return abs(denominator) < 1e-300 ? 0 : (b0 + b1 + b2) / denominator
    }

    /// Filters `signal` in place, front to back, starting from the steady state of its first sample.
    public func apply(_ signal: inout [Double]) {
        let count = signal.count
        guard count > 0 else { return }
        signal.withUnsafeMutableBufferPointer { buffer in
            let first = buffer[0]
            let steady = directCurrentGain * first
            var state2 = b2 * first - a2 * steady
            var state1 = b1 * first - a1 * steady + state2
            for index in 0..<count {
                let input = buffer[index]
                let output = b0 * input + state1
                state1 = b1 * input - a1 * output + state2
                state2 = b2 * input - a2 * output
                buffer[index] = output
            }
        }
    }

    /// Filters `signal` in place back to front (the second half of a zero-phase pass).
    public func applyReversed(_ signal: inout [Double]) {
        let count = signal.count
        guard count > 0 else { return }
        signal.withUnsafeMutableBufferPointer { buffer in
            let first = buffer[count - 1]
            let steady = directCurrentGain * first
            var state2 = b2 * first - a2 * steady
            var state1 = b1 * first - a1 * steady + state2
            var index = count - 1
            while index >= 0 {
                let input = buffer[index]
                let output = b0 * input + state1
                state1 = b1 * input - a1 * output + state2
                state2 = b2 * input - a2 * output
                buffer[index] = output
                index -= 1
            }
        }
    }

    /// Forward then backward filtering (as `filtfilt`): no phase shift, so feature peaks stay aligned with
    /// the raw signal's QRS complexes at every sampling rate; the magnitude response is squared.
    public func applyZeroPhase(_ signal: inout [Double]) {
        apply(&signal)
        applyReversed(&signal)
    }

    /// Zero-phase filtering by two sections in cascade (`first`, then `second`), forward then backward.
    ///
    /// Both sections run in the same loop: each recursion is bound by the latency of its own feedback, so
    /// interleaving two independent chains costs about as much as one, halving the time of the band-pass.
    public static func applyZeroPhase(_ first: BiquadFilter, _ second: BiquadFilter, to signal: inout [Double]) {
        let count = signal.count
        guard count > 0 else { return }
        signal.withUnsafeMutableBufferPointer { buffer in
            for direction in 0..<2 {
                let startIndex = direction == 0 ? 0 : count - 1
                let step = direction == 0 ? 1 : -1
                let initial = buffer[startIndex]
                // Start both sections in the steady state of the first sample they will see.
                let firstOutput = first.directCurrentGain * initial
                var first2 = first.b2 * initial - first.a2 * firstOutput
                var first1 = first.b1 * initial - first.a1 * firstOutput + first2
                let secondOutput = second.directCurrentGain * firstOutput
                var second2 = second.b2 * firstOutput - second.a2 * secondOutput
                var second1 = second.b1 * firstOutput - second.a1 * secondOutput + second2
                var index = startIndex
                for _ in 0..<count {
                    let input = buffer[index]
                    let middle = first.b0 * input + first1
                    first1 = first.b1 * input - first.a1 * middle + first2
                    first2 = first.b2 * input - first.a2 * middle
                    let output = second.b0 * middle + second1
                    second1 = second.b1 * middle - second.a1 * output + second2
                    second2 = second.b2 * middle - second.a2 * output
                    buffer[index] = output
                    index += step
                }
            }
        }
    }
}
