/// Fewer points for drawing a long history: per bucket of consecutive points, the lowest and the highest (in their
/// order), plus the first and the last point, so spikes and the final value survive.
public enum Decimation {
    /// Indices into `values` (ascending) of at most `maxPoints` points (at least 4 are always allowed).
    public static func indices(of values: [Double], maxPoints: Int) -> [Int] {
        let limit = max(4, maxPoints)
        guard values.count > limit else { return Array(values.indices) }
        // Two points per bucket, and the first and last point on their own.
        let buckets = (limit - 2) / 2
        let inner = values.count - 2
        var kept = [0]
        for bucket in 0..<buckets {
            let start = 1 + bucket * inner / buckets
            let end = 1 + (bucket + 1) * inner / buckets
            guard start < end else { continue }
            var low = start
            var high = start
            for index in start..<end {
                if values[index] < values[low] { low = index }
                if values[index] > values[high] { high = index }
            }
            kept.append(min(low, high))
            if low != high { kept.append(max(low, high)) }
        }
        kept.append(values.count - 1)
        return kept
    }

    /// How many points each line of a chart with `lines` lines may keep: the page stays small and quick with
    /// 200 runs, and a handful of runs keep every point of an ordinary training.
    public static func pointsPerLine(lines: Int) -> Int {
        max(24, min(500, 6000 / max(1, lines)))
    }
}
