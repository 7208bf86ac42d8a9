import ECGSignal
import XCTest

final class RhythmLabelsTests: XCTestCase {
    func testAnAuxTextLosesItsParenthesisPaddingAndSpaces() {
        XCTAssertEqual(RhythmLabels.label(aux: "(AFIB"), "AFIB")
        XCTAssertEqual(RhythmLabels.label(aux: "(N\0"), "N")
        XCTAssertEqual(RhythmLabels.label(aux: " (SVTA "), "SVTA")
        XCTAssertNil(RhythmLabels.label(aux: "(\0"))
        XCTAssertNil(RhythmLabels.label(aux: ""))
    }

    func testEachBeatTakesTheLastChangeAtOrBeforeIt() {
        let changes = [(sample: 100, label: "AFIB"), (sample: 10, label: "N"), (sample: 300, label: "N")]
        XCTAssertEqual(
            RhythmLabels.assign(beats: [5, 10, 99, 100, 250, 300, 900], changes: changes),
            ["", "N", "N", "AFIB", "AFIB", "N", "N"])
        XCTAssertEqual(RhythmLabels.assign(beats: [1, 2], changes: []), ["", ""])
    }
}

final class RRVariabilityTests: XCTestCase {
    /// Peaks at 360 Hz from RR intervals in seconds.
    private func peaks(_ intervals: [Double]) -> [Int] {
        var sample = 0.0
        return [0]
            + intervals.map { interval in
                sample += interval * 360
                return Int(sample.rounded())
            }
    }

    func testAPrematureBeatInARegularRhythmStandsOut() {
        // Sinus at 0.8 s, one beat (index 10) 0.5 s early, then a compensatory pause.
        var intervals = Array(repeating: 0.8, count: 20)
        intervals[9] = 0.5
        intervals[10] = 1.1
        let values = RRVariabilityExtractor.variability(peaks: peaks(intervals), samplingRate: 360)
        XCTAssertEqual(values[10].spread, 0, accuracy: 1e-9, "its own intervals are left out of the spread")
        XCTAssertEqual(values[10].prematurity, 7.5, accuracy: 0.01, "0.3 s early over 5 % of 0.8 s")
        XCTAssertEqual(values[10].pause, 7.5, accuracy: 0.01)
        XCTAssertEqual(values[3].prematurity, 0, accuracy: 1e-9)
    }

    func testANormalBeatInAnIrregularRhythmIsNotPremature() {
        // An irregular rhythm alternating ±0.2 s about 0.8 s: a short interval is ordinary there.
        let intervals = (0..<40).map { 0.8 + ($0 % 2 == 0 ? -0.2 : 0.2) }
        let values = RRVariabilityExtractor.variability(peaks: peaks(intervals), samplingRate: 360)
        XCTAssertGreaterThan(values[20].spread, 0.2)
        XCTAssertGreaterThan(values[20].successive, 0.4)
        XCTAssertLessThan(abs(values[20].prematurity), 1, "within one spread of the mean")
    }

    func testTooFewBeatsGiveZeros() {
        XCTAssertEqual(RRVariabilityExtractor.variability(peaks: [0, 300], samplingRate: 360), [.zero, .zero])
        XCTAssertEqual(RRVariabilityExtractor.variability(peaks: [], samplingRate: 360), [])
        XCTAssertEqual(
            RRVariabilityExtractor.variability(peaks: [0, 300, 600], samplingRate: 0), [.zero, .zero, .zero])
    }
}
