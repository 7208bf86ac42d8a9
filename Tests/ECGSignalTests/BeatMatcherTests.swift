import ECGSignal
import XCTest

final class BeatMatcherTests: XCTestCase {
    func testCountsMatchesMissesAndExtrasWithinTheWindow() {
        // 1000 Hz: the 150 ms window is 150 samples.
        let matcher = BeatMatcher(samplingRate: 1000, startTime: 0)
        let result = matcher.match(reference: [1000, 2000, 3000, 4000], detected: [1150, 2151, 3000, 3500])
        XCTAssertEqual(result, BeatMatchResult(truePositives: 2, falseNegatives: 2, falsePositives: 2))
        XCTAssertEqual(result.sensitivity, 50)
        XCTAssertEqual(result.positivePredictivity, 50)
    }

    func testEachBeatMatchesOnceAndTheClosestWins() {
        let matcher = BeatMatcher(samplingRate: 1000, startTime: 0)
        // Two detections near one beat: one TP, one FP. The closer one is the match, so the other (at 1100)
        // stays free for nothing and counts as FP.
        XCTAssertEqual(
            matcher.match(reference: [1000], detected: [1100, 1010]),
            BeatMatchResult(truePositives: 1, falseNegatives: 0, falsePositives: 1))
        // One detection between two beats goes to the closer one.
        XCTAssertEqual(
            matcher.match(reference: [1000, 1200], detected: [1120]),
            BeatMatchResult(truePositives: 1, falseNegatives: 1, falsePositives: 0))
    }

    func testTheFirstFiveMinutesAreLeftOutUnlessAsked() {
        let rate = 360.0
        let fiveMinutes = Int(300 * rate)
        let reference = [1000, 2000, fiveMinutes - 10, fiveMinutes + 1000, fiveMinutes + 2000]
        let detected = [1000, fiveMinutes + 1000, fiveMinutes + 5000]
        let bxb = BeatMatcher(samplingRate: rate).match(reference: reference, detected: detected)
        XCTAssertEqual(bxb, BeatMatchResult(truePositives: 1, falseNegatives: 1, falsePositives: 1))
        let all = BeatMatcher(samplingRate: rate, startTime: 0).match(reference: reference, detected: detected)
        XCTAssertEqual(all, BeatMatchResult(truePositives: 2, falseNegatives: 3, falsePositives: 1))
    }

    func testDetectionsInsideAReferenceFlutterEpisodeAreNotCounted() {
        let annotations: [(sample: Int, symbol: String)] = [
            (1000, "N"), (2000, "["), (2100, "!"), (2300, "N"), (3000, "]"), (3500, "N"), (4000, "+"), (4500, "V"),
        ]
        let reference = ReferenceBeats(annotations: annotations)
        XCTAssertEqual(reference.beats, [1000, 3500, 4500])  // the beat inside the episode is skipped, as bxb does
        XCTAssertEqual(reference.flutterEpisodes, [2000...3000])
        let matcher = BeatMatcher(samplingRate: 1000, startTime: 0)
        let result = matcher.match(reference: reference, detected: [1000, 2100, 2350, 2600, 3500, 3800, 4500])
        // Flutter waves at 2100, 2350, 2600 are ignored; 3800 lies outside the episode and is a false positive.
        XCTAssertEqual(result, BeatMatchResult(truePositives: 3, falseNegatives: 0, falsePositives: 1))
        let open = ReferenceBeats(annotations: [(10, "N"), (500, "["), (700, "N")])
        XCTAssertEqual(open.beats, [10])
        XCTAssertEqual(open.flutterEpisodes.count, 1)
        XCTAssertEqual(matcher.match(reference: open, detected: [10, 900, 100_000]).falsePositives, 0)
    }

    func testALateDetectionBeforeTheStartMayMatchTheFirstBeatAfterIt() {
        // bxb pairs the first reference beat after the start with the last detection before it when that is
        // the closer one within the window.
        let matcher = BeatMatcher(samplingRate: 1000, startTime: 10)
        let result = matcher.match(reference: [10_020, 11_000], detected: [9_990, 11_005])
        XCTAssertEqual(result, BeatMatchResult(truePositives: 2, falseNegatives: 0, falsePositives: 0))
    }

    func testGrossTotalsPoolTheCounts() {
        let gross =
            BeatMatchResult(truePositives: 90, falseNegatives: 10, falsePositives: 0)
            + BeatMatchResult(truePositives: 10, falseNegatives: 0, falsePositives: 10)
        XCTAssertEqual(gross, BeatMatchResult(truePositives: 100, falseNegatives: 10, falsePositives: 10))
        XCTAssertEqual(gross.sensitivity ?? 0, 100 * 100 / 110, accuracy: 1e-9)
        XCTAssertNil(BeatMatchResult().sensitivity)
        XCTAssertNil(BeatMatchResult().positivePredictivity)
    }

    func testOnlyBeatAnnotationsAreReferenceBeats() {
        for symbol in ["N", "L", "R", "B", "A", "a", "J", "S", "V", "r", "F", "e", "j", "n", "E", "/", "f", "Q", "?"] {
            XCTAssertTrue(BeatAnnotationSymbols.isBeat(symbol), symbol)
        }
        for symbol in ["+", "~", "|", "x", "[", "]", "!", "\"", "p", "t", "T", "u", "^", "="] {
            XCTAssertFalse(BeatAnnotationSymbols.isBeat(symbol), symbol)
        }
    }
}
