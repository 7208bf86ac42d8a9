import Foundation

/// How irregular the rhythm around one beat is, and how premature the beat is against that irregularity.
///
/// Atrial fibrillation makes every RR interval irregular while the QRS stays normal, so "shorter than the local
/// mean" (`RRFeatures.previousRatio`) calls many of its normal beats premature. Measured against the spread of the
/// intervals around it, a premature beat in a regular rhythm stands out and a normal beat in an irregular one
/// does not.
public struct RRVariability: Equatable, Sendable {
    /// Standard deviation over mean of the neighbourhood's intervals (coefficient of variation).
    public var spread: Double
    /// Root mean square of the successive differences of the neighbourhood's intervals, over their mean.
    public var successive: Double
    /// (mean − previous interval) / scale: how many spreads early the beat came; positive when premature.
    public var prematurity: Double
    /// (next interval − mean) / scale: how many spreads late the next beat came; positive after a pause.
    public var pause: Double

    public static let zero = RRVariability(spread: 0, successive: 0, prematurity: 0, pause: 0)
}

/// Computes `RRVariability` for a sequence of beats.
///
/// The neighbourhood of beat `i` is the intervals of the `beats` beats before it and after it, leaving out the
/// two intervals that touch beat `i` (its own prematurity must not widen the spread it is measured against).
/// The scale of a z-like score is the neighbourhood's standard deviation plus 5 % of its mean, so that a very
/// regular rhythm does not turn a few milliseconds into a large score; scores are clamped to ±8. With fewer than
/// two intervals in the neighbourhood, every value is 0.
public enum RRVariabilityExtractor {
    public static let floorFraction = 0.05
    public static let limit = 8.0

    /// For each of `peaks` (ascending samples), its variability over `beats` beats on each side.
    public static func variability(peaks: [Int], samplingRate: Double, beats: Int = 8) -> [RRVariability] {
        let count = peaks.count
        guard count >= 3, samplingRate > 0 else { return Array(repeating: .zero, count: count) }
        // intervals[j]: peaks[j] → peaks[j + 1], seconds.
        let intervals = (0..<(count - 1)).map { Double(peaks[$0 + 1] - peaks[$0]) / samplingRate }
        let side = max(1, beats)
        return (0..<count).map { index in
            // Intervals touching beat index: index − 1 (previous) and index (next).
            let before = Array(intervals[max(0, index - 1 - side)..<max(0, index - 1)])
            let after =
                index + 1 < intervals.count
                ? Array(intervals[(index + 1)..<min(intervals.count, index + 1 + side)]) : []
            let neighbourhood = before + after
            guard neighbourhood.count >= 2 else { return .zero }
            let mean = neighbourhood.reduce(0, +) / Double(neighbourhood.count)
            guard mean > 0 else { return .zero }
            let variance =
                neighbourhood.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(neighbourhood.count)
            let deviation = variance.squareRoot()
            var squaredDifferences = 0.0
            var differences = 0
            for run in [before, after] where run.count >= 2 {
                for position in 1..<run.count {
                    squaredDifferences += (run[position] - run[position - 1]) * (run[position] - run[position - 1])
                    differences += 1
                }
            }
            let successive = differences > 0 ? (squaredDifferences / Double(differences)).squareRoot() / mean : 0
            let scale = deviation + floorFraction * mean
            let previous = index > 0 ? intervals[index - 1] : intervals[0]
            let next = index < intervals.count ? intervals[index] : intervals[intervals.count - 1]
            func clamped(_ value: Double) -> Double { min(limit, max(-limit, value)) }
            return RRVariability(
                spread: deviation / mean, successive: successive, prematurity: clamped((mean - previous) / scale),
                pause: clamped((next - mean) / scale))
        }
    }
}
