import ECGSignal
import Foundation
import NeuralNet

/// Training windows as another recorder would have given them: the beat at another size against baseline
/// wander and noise, and through the bandwidth of another sampling rate (a round trip 360 → 128 → 360 Hz is what
/// `pipe infer` feeds the model from a 128 Hz record, which it resamples to the model's rate). Applied to the
/// stored windows each epoch, before they are normalised again as preprocess normalised them.
///
/// Stored windows are already normalised (min-max or z-score), so a gain alone changes nothing the model sees:
/// `amplitudeScale` sets the beat's size against the wander and noise, which are in units of the stored window's
/// height (min-max: the beat's own peak-to-peak). The per-beat features are left as preprocess computed them.
public struct RecorderAugmentation: Equatable, Sendable {
    /// Share of the training beats changed in each epoch; 0: none.
    public var probability: Double = 0
    /// Largest relative change of the beat's size: its factor is uniform in 1 ± this.
    public var amplitudeScale: Double = 0
    /// Largest baseline wander (a sinusoid of 0.05–0.5 Hz, random phase), in window-height units.
    public var wander: Double = 0
    /// Largest RMS of white noise, in window-height units (each beat draws its level uniformly below it).
    public var noise: Double = 0
    /// Rates, Hz, one of which (drawn per beat) each changed window is taken through and back; the dataset's
    /// own rate among them leaves the bandwidth as it is. Empty: no round trip.
    public var rates: [Double] = []

    public init() {}

    public var isActive: Bool { probability > 0 }

    /// A short text for the log.
    public var summary: String {
        guard isActive else { return "none" }
        let rateText = rates.isEmpty ? "none" : rates.map { String(format: "%g", $0) }.joined(separator: "/")
        return String(
            format: "%g of the beats: scale ±%g, wander %g, noise %g, rates %@", probability, amplitudeScale, wander,
            noise, rateText)
    }
}

/// A `RecorderAugmentation` made ready for windows of one length, rate and normalisation: each round trip is a
/// fixed linear map of a window (the resampler is linear, its edge rule too), tabulated once as a matrix.
struct RecorderSimulator {
    let augmentation: RecorderAugmentation
    let length: Int
    let samplingRate: Double
    let normalization: BeatWindowNormalization
    /// Per entry of `augmentation.rates`: [length × length] row-major, the window through that rate and back.
    let roundTrips: [[Float]]
    /// Per rate, per output sample, the input columns whose weight is not zero.
    let spans: [[Range<Int>]]

    init(
        _ augmentation: RecorderAugmentation, length: Int, samplingRate: Double, normalization: BeatWindowNormalization
    ) {
        self.augmentation = augmentation
        self.length = length
        self.samplingRate = samplingRate
        self.normalization = normalization
        var matrices: [[Float]] = []
        var nonzero: [[Range<Int>]] = []
        for rate in augmentation.rates {
            let matrix = Self.roundTripMatrix(length: length, rate: samplingRate, through: rate)
            matrices.append(matrix)
            nonzero.append(
                (0..<length).map { row in
                    let entries = matrix[(row * length)..<((row + 1) * length)]
                    let first = entries.firstIndex { $0 != 0 }.map { $0 - row * length } ?? 0
                    let last = entries.lastIndex { $0 != 0 }.map { $0 - row * length + 1 } ?? 0
                    return first..<max(first, last)
                })
        }
        roundTrips = matrices
        spans = nonzero
    }

    /// [length × length]: column j is the unit impulse at j taken from `rate` to `through` and back (the output
    /// cut or padded, by its last sample, to `length`).
    static func roundTripMatrix(length: Int, rate: Double, through: Double) -> [Float] {
        var matrix = [Float](repeating: 0, count: length * length)
        guard through != rate else {
            for index in 0..<length { matrix[index * length + index] = 1 }
            return matrix
        }
        let down = Resampler(inputRate: rate, outputRate: through)
        let up = Resampler(inputRate: through, outputRate: rate)
        for column in 0..<length {
            var impulse = [Double](repeating: 0, count: length)
            impulse[column] = 1
            let back = up.resample(down.resample(impulse))
            for row in 0..<length {
                let value = back.isEmpty ? 0 : back[min(row, back.count - 1)]
                matrix[row * length + column] = Float(value)
            }
        }
        return matrix
    }

    /// Changes `window` [length] in place with the next draws of `random`: scale, wander, noise, round trip,
    /// then the normalisation again. The draws depend on nothing but the generator, so an epoch's windows are the
    /// same on every run.
    func apply(to window: UnsafeMutableBufferPointer<Float>, random: inout RandomGenerator) {
        let scale = 1 + augmentation.amplitudeScale * Double(random.uniform(-1, 1))
        let wanderAmplitude = augmentation.wander * Double(random.nextFloat())
        let frequency = 0.05 + 0.45 * Double(random.nextFloat())
        let phase = 2 * Double.pi * Double(random.nextFloat())
        let noiseLevel = augmentation.noise * Double(random.nextFloat())
        let trip = roundTrips.isEmpty ? nil : random.nextInt(below: roundTrips.count)
        var values = [Double](repeating: 0, count: length)
        let step = 2 * Double.pi * frequency / samplingRate
        for index in 0..<length {
            values[index] =
                Double(window[index]) * scale + wanderAmplitude * sin(step * Double(index) + phase)
                + noiseLevel * Self.gaussian(&random)
        }
        if let trip {
            let matrix = roundTrips[trip]
            let rows = spans[trip]
            var filtered = [Double](repeating: 0, count: length)
            for row in 0..<length {
                var total = 0.0
                for column in rows[row] { total += Double(matrix[row * length + column]) * values[column] }
                filtered[row] = total
            }
            values = filtered
        }
        normalize(values, into: window)
    }

    /// The window normalised as the dataset's windows are (`BeatWindowExtractor`'s rules).
    private func normalize(_ values: [Double], into window: UnsafeMutableBufferPointer<Float>) {
        values.withUnsafeBufferPointer { source in
            guard let base = source.baseAddress, let destination = window.baseAddress else { return }
            _ = BeatWindowExtractor(length: length, normalization: normalization)
                .normalize(base, into: destination, count: length)
        }
    }

    /// A standard normal draw (Box–Muller, one of the pair).
    static func gaussian(_ random: inout RandomGenerator) -> Double {
        let u1 = (Double(random.next() >> 11) + 1) / Double(1 << 53)  // (0, 1]
        let u2 = Double(random.next() >> 11) / Double(1 << 53)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
