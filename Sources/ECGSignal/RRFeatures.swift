import Foundation

/// Rhythm features of one beat, in seconds (ratios are unitless).
public struct RRFeatures: Equatable, Sendable, Codable {
    /// Interval from the previous beat.
    public var previous: Double
    /// Interval to the next beat.
    public var next: Double
    /// Mean of the previous intervals of this beat and of up to 9 beats before it (the last 10 intervals).
    public var localMean: Double
    /// previous / localMean: below 1 for a premature beat.
    public var previousRatio: Double
    /// next / localMean: above 1 for a beat followed by a compensatory pause.
    public var nextRatio: Double

    public init(previous: Double, next: Double, localMean: Double, previousRatio: Double, nextRatio: Double) {
        self.previous = previous
        self.next = next
        self.localMean = localMean
        self.previousRatio = previousRatio
        self.nextRatio = nextRatio
    }
}

/// Computes RR features for a sequence of beats.
///
/// Edges: the first beat has no previous interval, so it takes its next interval; the last beat has no next
/// interval, so it takes its previous one. With fewer than two beats there are no intervals and every feature
/// is 0. A zero local mean gives ratios of 0 rather than NaN or infinity.
public enum RRFeatureExtractor {
    /// Features for each of `peaks` (ascending sample indices) at `samplingRate` Hz; `localBeats` intervals form
    /// the local mean.
    public static func features(peaks: [Int], samplingRate: Double, localBeats: Int = 10) -> [RRFeatures] {
        let count = peaks.count
        guard count >= 2, samplingRate > 0 else {
            return Array(
                repeating: RRFeatures(previous: 0, next: 0, localMean: 0, previousRatio: 0, nextRatio: 0), count: count)
        }
        var intervals = [Double](repeating: 0, count: count - 1)  // intervals[i]: peaks[i] → peaks[i + 1]
        for index in 0..<(count - 1) { intervals[index] = Double(peaks[index + 1] - peaks[index]) / samplingRate }
        let previous = (0..<count).map { $0 == 0 ? intervals[0] : intervals[$0 - 1] }
        let next = (0..<count).map { $0 == count - 1 ? intervals[count - 2] : intervals[$0] }
        let window = max(1, localBeats)
        var result: [RRFeatures] = []
        result.reserveCapacity(count)
        var runningSum = 0.0
        for index in 0..<count {
            runningSum += previous[index]
            if index >= window { runningSum -= previous[index - window] }
            let localMean = runningSum / Double(min(index + 1, window))
            result.append(
                RRFeatures(
                    previous: previous[index], next: next[index], localMean: localMean,
                    previousRatio: localMean > 0 ? previous[index] / localMean : 0,
                    nextRatio: localMean > 0 ? next[index] / localMean : 0))
        }
        return result
    }
}
