/// The value of rank `rank` (0-based, ascending) in `values`, which are reordered so that everything before
/// that rank is ≤ it (Hoare's selection, median-of-three pivots): linear time, where a sort is n log n.
func orderStatistic<Value: Comparable>(_ values: UnsafeMutableBufferPointer<Value>, rank: Int) -> Value {
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

/// `orderStatistic` over a copy of `values`, which stay as they are.
func orderStatistic(of values: some Collection<Double>, rank: Int) -> Double {
    var copy = Array(values)
    return copy.withUnsafeMutableBufferPointer { orderStatistic($0, rank: rank) }
}

/// The median of `values` (reordered in place): the middle value, or the mean of the two middle ones. `values`
/// must not be empty.
func medianInPlace(_ values: UnsafeMutableBufferPointer<Float>) -> Float {
    let upper = orderStatistic(values, rank: values.count / 2)
    return values.count % 2 == 1 ? upper : (upper + (values[..<(values.count / 2)].max() ?? upper)) / 2
}
