/// The k-th smallest of a buffer's values (0-based), found by quickselect: the value `sorted()[k]` would
/// give, in linear time on average instead of a sort's n log n. The buffer is reordered. Pivots are the median
/// of the first, middle and last values, so the cost does not depend on luck and the result never does.
func orderStatistic(_ values: UnsafeMutableBufferPointer<Double>, _ k: Int) -> Double {
    precondition(k >= 0 && k < values.count, "orderStatistic: k \(k) outside 0..<\(values.count)")
    var low = 0
    var high = values.count - 1
    while low < high {
        let middle = low + (high - low) / 2
        let pivot = medianOfThree(values[low], values[middle], values[high])
        // Hoare partition: low...j holds values ≤ pivot, j+1...high values ≥ pivot.
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
        if k <= j {
            high = j
        } else if k >= i {
            low = i
        } else {
            return values[k]  // between the two parts: equal to the pivot
        }
    }
    return values[low]
}

/// `orderStatistic` over a copy of `values`, which stay as they are.
func orderStatistic(of values: some Collection<Double>, _ k: Int) -> Double {
    var copy = Array(values)
    return copy.withUnsafeMutableBufferPointer { orderStatistic($0, k) }
}

private func medianOfThree(_ a: Double, _ b: Double, _ c: Double) -> Double {
    max(min(a, b), min(max(a, b), c))
}
