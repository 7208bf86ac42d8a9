import Foundation

/// The beat-annotation symbols of the MIT-BIH code table that `bxb` counts as beats.
///
/// Everything else in an annotation file (rhythm changes `+`, noise `~`, artefacts `|`, flutter `[` `!` `]`,
/// comments `"`, non-conducted P waves `x`, …) marks an event, not a beat, and is ignored by the matcher.
public enum BeatAnnotationSymbols {
    public static let all: Set<String> = [
        "N", "L", "R", "B", "A", "a", "J", "S", "V", "r", "F", "e", "j", "n", "E", "/", "f", "Q", "?",
    ]

    public static func isBeat(_ symbol: String) -> Bool { all.contains(symbol) }
}

/// Beat-by-beat counts for one record, as `bxb` reports them.
public struct BeatMatchResult: Equatable, Sendable, Codable {
    /// Reference beats matched by a detection.
    public var truePositives: Int
    /// Reference beats no detection matched.
    public var falseNegatives: Int
    /// Detections that matched no reference beat.
    public var falsePositives: Int

    public init(truePositives: Int = 0, falseNegatives: Int = 0, falsePositives: Int = 0) {
        self.truePositives = truePositives
        self.falseNegatives = falseNegatives
        self.falsePositives = falsePositives
    }

    /// Sensitivity TP / (TP + FN), in percent; nil when there are no reference beats.
    public var sensitivity: Double? {
        let total = truePositives + falseNegatives
        return total == 0 ? nil : 100 * Double(truePositives) / Double(total)
    }

    /// Positive predictivity TP / (TP + FP), in percent; nil when there are no detections.
    public var positivePredictivity: Double? {
        let total = truePositives + falsePositives
        return total == 0 ? nil : 100 * Double(truePositives) / Double(total)
    }

    /// Gross totals: the counts summed over records (how `sumstats` pools records).
    public static func + (left: BeatMatchResult, right: BeatMatchResult) -> BeatMatchResult {
        BeatMatchResult(
            truePositives: left.truePositives + right.truePositives,
            falseNegatives: left.falseNegatives + right.falseNegatives,
            falsePositives: left.falsePositives + right.falsePositives)
    }
}

/// The reference side of a comparison: beat times and the ventricular flutter/fibrillation episodes.
public struct ReferenceBeats: Equatable, Sendable {
    /// Sample indices of the reference beats, ascending.
    public var beats: [Int]
    /// Episodes from a VFON (`[`) to the next VFOFF (`]`) annotation, inclusive; an episode left open runs to
    /// the end. `bxb` does not count detections inside them: flutter waves are not beats, and the standard
    /// scores VF detection separately.
    public var flutterEpisodes: [ClosedRange<Int>]

    public init(beats: [Int], flutterEpisodes: [ClosedRange<Int>] = []) {
        self.beats = beats.sorted()
        self.flutterEpisodes = flutterEpisodes
    }

    /// Reads beats and flutter episodes from annotations in time order (`symbol` from the MIT code table).
    /// As in `bxb`, annotations inside an episode, beats included, are skipped.
    public init(annotations: [(sample: Int, symbol: String)]) {
        var beats: [Int] = []
        var episodes: [ClosedRange<Int>] = []
        var episodeStart: Int? = nil
        for annotation in annotations {
            if let start = episodeStart {
                if annotation.symbol == "]" {
                    episodes.append(start...max(start, annotation.sample))
                    episodeStart = nil
                }
                continue
            }
            if annotation.symbol == "[" {
                episodeStart = annotation.sample
            } else if BeatAnnotationSymbols.isBeat(annotation.symbol) {
                beats.append(annotation.sample)
            }
        }
        if let start = episodeStart { episodes.append(start...Int.max / 4) }
        self.init(beats: beats, flutterEpisodes: episodes)
    }
}

/// Matches reference beats with detected beats by the algorithm of WFDB `bxb` (ANSI/AAMI EC38 and EC57).
///
/// Both lists are walked in time order. The earlier of the current reference beat T and detection t is
/// paired with the other when they are at most `matchWindow` apart (150 ms) and no closer partner follows
/// (the next detection for T, the next reference beat for t); otherwise it is counted alone, as a false
/// negative (reference) or a false positive (detection). Detections inside a reference flutter episode are not
/// counted. Nothing before `startTime` is counted (5 minutes: the learning period `bxb` leaves out), except
/// that, as in `bxb`, the last detection before the start may match the first reference beat after it.
public struct BeatMatcher: Sendable {
    public var samplingRate: Double
    /// Seconds; `bxb`'s default match window.
    public var matchWindow: Double
    /// Seconds from the start of the record before which nothing is counted; 0 counts everything.
    public var startTime: Double

    /// `bxb`'s defaults: 150 ms window, first 5 minutes left out.
    public init(samplingRate: Double, matchWindow: Double = 0.150, startTime: Double = 300) {
        self.samplingRate = samplingRate
        self.matchWindow = matchWindow
        self.startTime = startTime
    }

    /// Counts TP, FN and FP for `reference` and `detected` beat sample indices (any order).
    public func match(reference: [Int], detected: [Int]) -> BeatMatchResult {
        match(reference: ReferenceBeats(beats: reference), detected: detected)
    }

    /// Counts TP, FN and FP; detections inside the reference's flutter episodes are not counted.
    public func match(reference: ReferenceBeats, detected: [Int]) -> BeatMatchResult {
        let references = reference.beats
        let detections = detected.sorted()
        let start = Int((startTime * samplingRate).rounded())
        let window = Int((matchWindow * samplingRate).rounded())
        let never = Int.max / 4  // past the end of either list (bxb's huge_time)
        var result = BeatMatchResult()

        func isInFlutter(_ sample: Int) -> Bool { reference.flutterEpisodes.contains { $0.contains(sample) } }

        // Reference cursor: T = references[referenceIndex], T' the one after.
        var referenceIndex = references.firstIndex { $0 >= start } ?? references.count
        func referenceTime(_ index: Int) -> Int { index < references.count ? references[index] : never }
        // Detection cursor: t = detections[testIndex] (testIndex −1: bxb's empty annotation at time 0), t' after.
        var testIndex = (detections.lastIndex { $0 < start }) ?? -1
        func testTime(_ index: Int) -> Int { index < 0 ? 0 : (index < detections.count ? detections[index] : never) }

        var T = referenceTime(referenceIndex)
        var t = testTime(testIndex)
        // The first reference beat may pair with the last detection before the start (bxb counts that pair
        // only when such a detection exists).
        if T - t < abs(T - testTime(testIndex + 1)) && T - t <= window {
            if testIndex >= 0 { result.truePositives += 1 }
            referenceIndex += 1
            testIndex += 1
        } else {
            testIndex += 1
            // A detection just after the start that loses T to the next detection is dropped uncounted.
            if testTime(testIndex) - start <= window
                && abs(T - testTime(testIndex + 1)) < abs(T - testTime(testIndex))
            {
                testIndex += 1
            }
        }
        T = referenceTime(referenceIndex)
        t = testTime(testIndex)

        while T != never || t != never {
            if t < T {
                if T - t <= window && T - t < abs(T - testTime(testIndex + 1)) {
                    result.truePositives += 1
                    referenceIndex += 1
                    testIndex += 1
                } else {
                    if !isInFlutter(t) { result.falsePositives += 1 }
                    testIndex += 1
                }
            } else {
                if t - T <= window && t - T < abs(t - referenceTime(referenceIndex + 1)) {
                    result.truePositives += 1
                    referenceIndex += 1
                    testIndex += 1
                } else {
                    result.falseNegatives += 1
                    referenceIndex += 1
                }
            }
            T = referenceTime(referenceIndex)
            t = testTime(testIndex)
        }
        return result
    }
}
