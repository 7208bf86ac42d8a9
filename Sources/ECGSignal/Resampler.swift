import Foundation

/// Changes a signal's sampling rate with a Kaiser-windowed sinc low-pass (band-limited interpolation).
///
/// The cut-off sits just under the lower of the two Nyquist frequencies, so going down (360 → 250 Hz) removes
/// what the new rate cannot hold instead of folding it back as aliases, and going up (250 → 360 Hz) adds no
/// images. When the rate ratio is a fraction with a denominator up to 4096 the filter is tabulated once per
/// output phase (polyphase, exact); otherwise positions are rounded to 1/4096 of a sample and tabulated likewise.
///
/// Samples beyond the ends are taken equal to the end samples, so a constant stays constant at the edges. A NaN
/// (invalid) input sample makes every output sample within the kernel's reach NaN: invalidity is not smoothed away.
public struct Resampler: Sendable {
    public let inputRate: Double
    public let outputRate: Double
    /// Zero crossings of the sinc on each side of the centre: longer kernels give a sharper transition band.
    public let zeroCrossings: Int
    /// Kaiser window shape; 8 gives about 80 dB of stop-band attenuation.
    public let kaiserBeta: Double
    /// Cut-off as a fraction of the lower Nyquist frequency.
    public let cutoffFraction: Double

    public init(
        inputRate: Double, outputRate: Double, zeroCrossings: Int = 16, kaiserBeta: Double = 8,
        cutoffFraction: Double = 0.92
    ) {
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.zeroCrossings = max(2, zeroCrossings)
        self.kaiserBeta = kaiserBeta
        self.cutoffFraction = cutoffFraction
    }

    /// Number of output samples for `inputCount` input samples: the output covers the same time span.
    public func outputCount(forInputCount inputCount: Int) -> Int {
        guard inputCount > 0, inputRate > 0, outputRate > 0 else { return 0 }
        return Int((Double(inputCount - 1) * outputRate / inputRate).rounded(.down)) + 1
    }

    public func resample(_ signal: [Float]) -> [Float] {
        resample(signal.map { Double($0) }).map { Float($0) }
    }

    /// The signal at `outputRate`; output sample k lies at time k / outputRate, as input sample n at n / inputRate.
    public func resample(_ signal: [Double]) -> [Double] {
        let count = signal.count
        guard count > 0, inputRate.isFinite, outputRate.isFinite, inputRate > 0, outputRate > 0 else { return [] }
        if inputRate == outputRate { return signal }
        let outputLength = outputCount(forInputCount: count)
        // Cut-off in cycles per input sample.
        let cutoff = 0.5 * min(1, outputRate / inputRate) * cutoffFraction
        let halfWidth = Double(zeroCrossings) / (2 * cutoff)  // input samples on each side
        let reach = Int(halfWidth.rounded(.up))
        let step = inputRate / outputRate

        if let (numerator, denominator) = Self.smallFraction(inputRate / outputRate, maximumDenominator: 4096) {
            // Output k sits at input position k·numerator/denominator: its fractional part repeats with period
            // `denominator`, so one weight table per phase serves the whole signal.
            var tables: [[Double]] = []
            tables.reserveCapacity(denominator)
            for phase in 0..<denominator {
                let fraction = Double(phase * numerator % denominator) / Double(denominator)
                tables.append(weights(fraction: fraction, reach: reach, cutoff: cutoff, halfWidth: halfWidth))
            }
            var output = [Double](repeating: 0, count: outputLength)
            signal.withUnsafeBufferPointer { input in
                output.withUnsafeMutableBufferPointer { result in
                    for index in 0..<outputLength {
                        let base = index * numerator / denominator
                        result[index] = Self.convolve(
                            input, centre: base, weights: tables[index % denominator], reach: reach)
                    }
                }
            }
            return output
        }
        // Irrational-looking ratios: each output's fractional position is rounded to 1/4096 of an input sample
        // (a timing error under 0.00025 samples) and the weight tables are built the first time a phase is used.
        let phases = 4096
        var tables = [[Double]?](repeating: nil, count: phases)
        var output = [Double](repeating: 0, count: outputLength)
        signal.withUnsafeBufferPointer { input in
            for index in 0..<outputLength {
                let position = Double(index) * step
                var base = Int(position.rounded(.down))
                var phase = Int(((position - Double(base)) * Double(phases)).rounded())
                if phase == phases {
                    phase = 0
                    base += 1
                }
                let table: [Double]
                if let cached = tables[phase] {
                    table = cached
                } else {
                    table = weights(
                        fraction: Double(phase) / Double(phases), reach: reach, cutoff: cutoff, halfWidth: halfWidth)
                    tables[phase] = table
                }
                output[index] = Self.convolve(input, centre: base, weights: table, reach: reach)
            }
        }
        return output
    }

    /// Kernel weights for input offsets −reach+1 … reach relative to the sample at or before the output time,
    /// normalised to sum to 1 so a constant signal passes unchanged.
    func weights(fraction: Double, reach: Int, cutoff: Double, halfWidth: Double) -> [Double] {
        var table = [Double](repeating: 0, count: 2 * reach)
        var sum = 0.0
        let denominator = Self.besselI0(kaiserBeta)
        for slot in 0..<(2 * reach) {
            let offset = Double(slot - reach + 1) - fraction
            guard abs(offset) < halfWidth else { continue }
            let argument = 2 * cutoff * offset
            let sinc = argument == 0 ? 1 : sin(Double.pi * argument) / (Double.pi * argument)
            let ratio = offset / halfWidth
            let window = Self.besselI0(kaiserBeta * (1 - ratio * ratio).squareRoot()) / denominator
            table[slot] = sinc * window
            sum += table[slot]
        }
        if sum != 0 { for slot in table.indices { table[slot] /= sum } }
        return table
    }

    @inline(__always)
    static func convolve(_ input: UnsafeBufferPointer<Double>, centre: Int, weights: [Double], reach: Int) -> Double {
        let last = input.count - 1
        var total = 0.0
        weights.withUnsafeBufferPointer { table in
            let start = centre - reach + 1
            if start >= 0 && start + table.count - 1 <= last {
                for slot in 0..<table.count { total += table[slot] * input[start + slot] }
            } else {
                for slot in 0..<table.count {
                    let position = min(max(start + slot, 0), last)
                    total += table[slot] * input[position]
                }
            }
        }
        return total
    }

    /// `value` as numerator/denominator when a denominator up to `maximumDenominator` represents it to 1e-9.
    static func smallFraction(_ value: Double, maximumDenominator: Int) -> (Int, Int)? {
        for denominator in 1...maximumDenominator {
            let numerator = (value * Double(denominator)).rounded()
            if abs(numerator / Double(denominator) - value) < 1e-9 * max(1, value) {
                return (Int(numerator), denominator)
            }
        }
        return nil
    }

    /// The modified Bessel function of the first kind, order 0 (power series; converges fast for β ≤ 20).
    static func besselI0(_ x: Double) -> Double {
        var sum = 1.0
        var term = 1.0
        let quarterSquare = x * x / 4
        for k in 1..<60 {
            term *= quarterSquare / Double(k * k)
            sum += term
            if term < sum * 1e-17 { break }
        }
        return sum
    }
}
