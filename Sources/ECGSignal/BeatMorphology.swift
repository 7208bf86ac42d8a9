import Foundation

/// Each beat's shape measured against its own record's typical beat: the record's median template (sample by
/// sample over all its windows), so that the features say "unlike this patient's usual beat" rather than
/// "unlike the beats of the patients in the training set". Nothing here needs labels: inference computes the
/// same values from the record alone.
public enum BeatMorphology {
    /// Feature names, in the order `features` writes them.
    public static let featureNames = ["template_correlation", "qrs_template_correlation", "amplitude_to_record"]

    /// [count × 3]: the Pearson correlation of the whole window with the template, the same over the QRS
    /// (`qrsHalfWidth` samples either side of the R peak), and the window's peak-to-peak amplitude over the
    /// record's median amplitude. `windows` is [count × length] (any per-window affine normalisation leaves the
    /// correlations unchanged); `amplitudes` [count] are the beats' peak-to-peak amplitudes before normalisation.
    public static func features(windows: [Float], length: Int, amplitudes: [Double], qrsHalfWidth: Int) -> [Float] {
        let count = amplitudes.count
        guard count > 0, length > 0, windows.count == count * length else { return [] }
        let template = medianTemplate(windows: windows, length: length, count: count)
        let centre = (length - 1) / 2
        let qrs = max(0, centre - qrsHalfWidth)..<min(length, centre + qrsHalfWidth + 1)
        let typicalAmplitude = median(amplitudes)
        let whole = CenteredTemplate(template, range: 0..<length)
        let complex = CenteredTemplate(template, range: qrs)
        var result = [Float](repeating: 0, count: count * featureNames.count)
        windows.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for beat in 0..<count {
                let window = base + beat * length
                result[beat * 3] = Float(whole.correlation(with: window))
                result[beat * 3 + 1] = Float(complex.correlation(with: window))
                result[beat * 3 + 2] = typicalAmplitude > 0 ? Float(amplitudes[beat] / typicalAmplitude) : 0
            }
        }
        return result
    }

    /// The template over a range, less its mean, ready for Pearson correlations with many windows in one pass
    /// each: Σ(x − x̄)(y − ȳ) = Σ x·(y − ȳ), and Σ(x − x̄)² = Σx² − (Σx)²/n.
    struct CenteredTemplate {
        let range: Range<Int>
        /// [range.count] template − its mean.
        let centered: [Double]
        /// Σ (y − ȳ)².
        let sumOfSquares: Double

        init(_ template: [Float], range: Range<Int>) {
            self.range = range
            let mean = range.isEmpty ? 0 : range.reduce(0.0) { $0 + Double(template[$1]) } / Double(range.count)
            centered = range.map { Double(template[$0]) - mean }
            sumOfSquares = centered.reduce(0) { $0 + $1 * $1 }
        }

        /// Pearson correlation of window[range] with the template; 0 when either is flat there.
        /// window: [≥ range.upperBound].
        @inline(__always)
        func correlation(with window: UnsafePointer<Float>) -> Double {
            let n = range.count
            guard n > 0, sumOfSquares > 0 else { return 0 }
            let x = window + range.lowerBound
            return centered.withUnsafeBufferPointer { buffer -> Double in
                guard let y = buffer.baseAddress else { return 0 }
                var sum = SIMD4<Double>()
                var squares = SIMD4<Double>()
                var products = SIMD4<Double>()
                var i = 0
                while i + 4 <= n {
                    let xs = SIMD4<Double>(Double(x[i]), Double(x[i + 1]), Double(x[i + 2]), Double(x[i + 3]))
                    let ys = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD4<Double>.self)
                    sum += xs
                    squares += xs * xs
                    products += xs * ys
                    i += 4
                }
                var sx = sum.sum()
                var sxx = squares.sum()
                var sxy = products.sum()
                while i < n {
                    let value = Double(x[i])
                    sx += value
                    sxx += value * value
                    sxy += value * y[i]
                    i += 1
                }
                let variance = sxx - sx * sx / Double(n)
                // A flat window leaves only rounding in `variance`; treat it as zero.
                guard variance > 1e-12 * max(sxx, 1e-300) else { return 0 }
                return sxy / (variance * sumOfSquares).squareRoot()
            }
        }
    }

    /// Beats the template is taken over: evenly spaced through the record, so that its typical beat comes from
    /// the whole recording, and a sort per sample stays cheap.
    static let templateBeats = 255

    /// The sample-by-sample median of (at most `templateBeats` evenly spaced) windows.
    static func medianTemplate(windows: [Float], length: Int, count: Int) -> [Float] {
        let used = min(count, templateBeats)
        let chosen = (0..<used).map { used == count ? $0 : $0 * (count - 1) / max(1, used - 1) }
        // Transposed once, so that each sample's values are contiguous for the selection.
        var columns = [Float](repeating: 0, count: used * length)
        for (slot, beat) in chosen.enumerated() {
            for offset in 0..<length { columns[offset * used + slot] = windows[beat * length + offset] }
        }
        var template = [Float](repeating: 0, count: length)
        columns.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for offset in 0..<length {
                let column = UnsafeMutableBufferPointer(start: base + offset * used, count: used)
                template[offset] = medianInPlace(column)
            }
        }
        return template
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
