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
        var result = [Float](repeating: 0, count: count * featureNames.count)
        for beat in 0..<count {
            let window = windows[(beat * length)..<((beat + 1) * length)]
            result[beat * 3] = Float(correlation(window, template, range: 0..<length))
            result[beat * 3 + 1] = Float(correlation(window, template, range: qrs))
            result[beat * 3 + 2] = typicalAmplitude > 0 ? Float(amplitudes[beat] / typicalAmplitude) : 0
        }
        return result
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
                let upper = select(column, rank: used / 2)
                template[offset] = used % 2 == 1 ? upper : (upper + (column[..<(used / 2)].max() ?? upper)) / 2
            }
        }
        return template
    }

    /// The value of rank `rank` (0-based, ascending) in `values`, which are reordered so that everything before
    /// that rank is ≤ it (Hoare's selection, median-of-three pivots): linear time, where a sort is n log n.
    static func select(_ values: UnsafeMutableBufferPointer<Float>, rank: Int) -> Float {
        var low = 0
        var high = values.count - 1
        while low < high {
            let middle = low + (high - low) / 2
            // Median of three as the pivot.
            if values[middle] < values[low] { values.swapAt(middle, low) }
            if values[high] < values[low] { values.swapAt(high, low) }
            if values[high] < values[middle] { values.swapAt(high, middle) }
            let pivot = values[middle]
            var i = low
            var j = high
            while i <= j {
                while values[i] < pivot { i += 1 }
                while values[j] > pivot { j -= 1 }
                if i <= j {
                    values.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if rank <= j {
                high = j
            } else if rank >= i {
                low = i
            } else {
                return values[rank]
            }
        }
        return values[rank]
    }

    /// Pearson correlation over `range` of the window (which starts at its slice's start index) and the
    /// template; 0 when either is flat there.
    static func correlation(_ window: ArraySlice<Float>, _ template: [Float], range: Range<Int>) -> Double {
        guard !range.isEmpty else { return 0 }
        let base = window.startIndex
        var sumX = 0.0
        var sumY = 0.0
        for offset in range {
            sumX += Double(window[base + offset])
            sumY += Double(template[offset])
        }
        let n = Double(range.count)
        let meanX = sumX / n
        let meanY = sumY / n
        var covariance = 0.0
        var varianceX = 0.0
        var varianceY = 0.0
        for offset in range {
            let x = Double(window[base + offset]) - meanX
            let y = Double(template[offset]) - meanY
            covariance += x * y
            varianceX += x * x
            varianceY += y * y
        }
        guard varianceX > 0, varianceY > 0 else { return 0 }
        return covariance / (varianceX * varianceY).squareRoot()
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
