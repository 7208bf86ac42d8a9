import Foundation

/// What the stretch before each beat's QRS holds, measured against the record's median beat: a sinus beat has
/// the record's usual P wave there, an ectopic atrial beat an abnormal or early one, and atrial fibrillation none
/// at all, only irregular f waves. RR intervals cannot tell atrial fibrillation's irregular normal beats from
/// premature ones; the atrial segment can. Like `BeatMorphology`, nothing here needs labels.
///
/// The segment runs from 250 ms to 50 ms before the R peak (clamped to the window): the P wave ends a PR
/// segment before the QRS starts, which begins some 40 ms before the R peak. Each window's segment and the
/// template's are detrended (their least-squares line removed) first, so that baseline wander across the
/// segment does not read as atrial activity.
public enum AtrialActivity {
    /// Feature names, in the order `features` writes them.
    public static let featureNames = [
        "p_correlation", "p_energy_share", "p_peak", "p_residual", "p_local_correlation", "p_local_peak",
    ]

    /// Windows on each side whose atrial segments make a beat's local template: the record's median beat mixes
    /// its sinus stretches with its atrial fibrillation, the beats around it do not.
    public static let localBeats = 8

    /// The segment before the R peak that the measures read: `segmentStart...segmentEnd` seconds before it.
    public static let segmentStart = 0.250
    public static let segmentEnd = 0.050

    /// [count × 6] per window: the Pearson correlation of its detrended atrial segment with the template's;
    /// its RMS over its RMS plus the template's (0.5 when alike, 0 when flat, towards 1 when the template has
    /// none); the largest deviation of the smoothed segment from its line (window units, so a fraction of the beat's
    /// height for min-max windows); the RMS of what is left after the best scaled template is taken out (f
    /// waves and an abnormal P, in window units); then the correlation with the local template (the
    /// sample-by-sample median segment of the `localBeats` windows on each side, the beat left out) and that
    /// template's own P height: near zero where the rhythm around the beat has no P waves (f waves of random
    /// phase cancel in the median), which tells a missing P of atrial fibrillation from an ectopic beat's abnormal
    /// one among sinus beats. `windows` is [count × length], R peak at `(length − 1) / 2`.
    public static func features(windows: [Float], length: Int, samplingRate: Double) -> [Float] {
        guard length > 0, windows.count % length == 0, samplingRate > 0 else { return [] }
        let count = windows.count / length
        guard count > 0 else { return [] }
        let range = segment(length: length, samplingRate: samplingRate)
        let smoothing = max(1, Int((0.02 * samplingRate).rounded()))
        let template = BeatMorphology.medianTemplate(windows: windows, length: length, count: count)
        let reference = Segment(detrending: template[range])
        let locals = localTemplates(windows: windows, length: length, count: count, range: range)
        var result = [Float](repeating: 0, count: count * featureNames.count)
        for beat in 0..<count {
            let start = beat * length
            let own = Segment(detrending: windows[(start + range.lowerBound)..<(start + range.upperBound)])
            let out = beat * featureNames.count
            result[out] = Float(own.correlation(with: reference))
            let energies = own.rms + reference.rms
            result[out + 1] = energies > 0 ? Float(own.rms / energies) : 0.5
            result[out + 2] = Float(own.peakDeviation(smoothing: smoothing))
            result[out + 3] = Float(own.residualRMS(after: reference))
            let local = Segment(detrending: locals[(beat * range.count)..<((beat + 1) * range.count)])
            result[out + 4] = Float(own.correlation(with: local))
            result[out + 5] = Float(local.peakDeviation(smoothing: smoothing))
        }
        return result
    }

    /// [count × range.count] per beat, the sample-by-sample median of the atrial segments of the windows within
    /// `localBeats` of it, itself left out (its own segment when it has no neighbours). Each sample's values over
    /// the beats are walked with a sorted sliding window (one value in, one out per beat), and the median of the
    /// window less the beat's own value is read from it by rank: the same value a selection over the neighbours
    /// gives, at a fraction of the cost.
    static func localTemplates(windows: [Float], length: Int, count: Int, range: Range<Int>) -> [Float] {
        let n = range.count
        var result = [Float](repeating: 0, count: count * n)
        var column = [Float](repeating: 0, count: count)
        var window = [Float](repeating: 0, count: 2 * localBeats + 2)
        result.withUnsafeMutableBufferPointer { output in
            column.withUnsafeMutableBufferPointer { column in
                window.withUnsafeMutableBufferPointer { sorted in
                    for offset in 0..<n {
                        for beat in 0..<count { column[beat] = windows[beat * length + range.lowerBound + offset] }
                        var size = 0  // sorted[0..<size] holds column[low..<high], ascending
                        var low = 0
                        var high = 0
                        for beat in 0..<count {
                            let first = max(0, beat - localBeats)
                            let last = min(count - 1, beat + localBeats)
                            while high <= last {
                                let slot = insertionIndex(of: column[high], in: sorted, size: size)
                                var index = size
                                while index > slot {
                                    sorted[index] = sorted[index - 1]
                                    index -= 1
                                }
                                sorted[slot] = column[high]
                                size += 1
                                high += 1
                            }
                            while low < first {
                                let slot = insertionIndex(of: column[low], in: sorted, size: size)
                                for index in slot..<(size - 1) { sorted[index] = sorted[index + 1] }
                                size -= 1
                                low += 1
                            }
                            guard first < last else {
                                output[beat * n + offset] = column[beat]
                                continue
                            }
                            let own = insertionIndex(of: column[beat], in: sorted, size: size)  // one copy of it
                            let used = size - 1
                            let upperRank = used / 2
                            let upper = sorted[upperRank < own ? upperRank : upperRank + 1]
                            guard used % 2 == 0 else {
                                output[beat * n + offset] = upper
                                continue
                            }
                            let lowerRank = upperRank - 1
                            output[beat * n + offset] =
                                (upper + sorted[lowerRank < own ? lowerRank : lowerRank + 1]) / 2
                        }
                    }
                }
            }
        }
        return result
    }

    /// The first index of `sorted[0..<size]` (ascending) whose value is not below `value`: the count of values
    /// below it, taken without branches (a binary search over these few values mispredicts most of its steps).
    @inline(__always)
    static func insertionIndex(of value: Float, in sorted: UnsafeMutableBufferPointer<Float>, size: Int) -> Int {
        var below = 0
        for index in 0..<size { below &+= sorted[index] < value ? 1 : 0 }
        return below
    }

    /// The window's sample range the measures read (at least 2 samples, inside the window).
    static func segment(length: Int, samplingRate: Double) -> Range<Int> {
        let centre = (length - 1) / 2
        let first = max(0, centre - Int((segmentStart * samplingRate).rounded()))
        let last = max(first + 2, min(centre, centre - Int((segmentEnd * samplingRate).rounded())))
        return first..<min(length, last)
    }

    /// A segment less its least-squares line.
    struct Segment {
        /// [n] the values less the line through them.
        var values: [Double]
        var rms: Double

        init(detrending source: ArraySlice<Float>) {
            let n = Double(source.count)
            let xMean = (n - 1) / 2
            var yMean = 0.0
            for value in source { yMean += Double(value) }
            yMean /= max(n, 1)
            var covariance = 0.0
            var spread = 0.0
            for (index, value) in source.enumerated() {
                let x = Double(index) - xMean
                covariance += x * (Double(value) - yMean)
                spread += x * x
            }
            let slope = spread > 0 ? covariance / spread : 0
            values = source.enumerated().map { index, value in
                Double(value) - yMean - slope * (Double(index) - xMean)
            }
            let squares = values.reduce(0) { $0 + $1 * $1 }
            rms = values.isEmpty ? 0 : (squares / n).squareRoot()
        }

        /// Pearson correlation (both have zero mean); 0 when either is flat.
        func correlation(with other: Segment) -> Double {
            guard rms > 1e-9, other.rms > 1e-9, values.count == other.values.count else { return 0 }
            let products = zip(values, other.values).reduce(0) { $0 + $1.0 * $1.1 }
            return max(-1, min(1, products / (Double(values.count) * rms * other.rms)))
        }

        /// The largest |moving average over `smoothing` samples|: the P wave's height above the line, noise
        /// spikes of a sample or two averaged down.
        func peakDeviation(smoothing: Int) -> Double {
            let width = min(smoothing, values.count)
            guard width > 0 else { return 0 }
            var sum = values[0..<width].reduce(0, +)
            var peak = abs(sum)
            for index in width..<values.count {
                sum += values[index] - values[index - width]
                peak = max(peak, abs(sum))
            }
            return peak / Double(width)
        }

        /// RMS of the values less `scale × other`, the scale (≥ 0: an inverted P is no match) fitted by least
        /// squares; all of the segment's RMS when the template is flat.
        func residualRMS(after other: Segment) -> Double {
            guard values.count == other.values.count, !values.isEmpty else { return rms }
            let otherSquares = other.values.reduce(0) { $0 + $1 * $1 }
            guard otherSquares > 1e-12 else { return rms }
            let scale = max(0, zip(values, other.values).reduce(0) { $0 + $1.0 * $1.1 } / otherSquares)
            let residual = zip(values, other.values).reduce(0) { $0 + ($1.0 - scale * $1.1) * ($1.0 - scale * $1.1) }
            return (residual / Double(values.count)).squareRoot()
        }
    }
}
