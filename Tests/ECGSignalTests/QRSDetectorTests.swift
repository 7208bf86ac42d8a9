import ECGFixtures
import ECGSignal
import XCTest

final class QRSDetectorTests: XCTestCase {
    /// Matches detections with the true beats over the whole fixture (no 5-minute exclusion).
    private func match(_ fixture: SyntheticECG, _ detections: [Int]) -> BeatMatchResult {
        BeatMatcher(samplingRate: fixture.samplingRate, startTime: 0)
            .match(reference: fixture.peakSamples, detected: detections)
    }

    private func assertAllBeatsFound(_ fixture: SyntheticECG, file: StaticString = #filePath, line: UInt = #line) {
        let detections = QRSDetector(samplingRate: fixture.samplingRate).detect(fixture.samples())
        let result = match(fixture, detections)
        XCTAssertEqual(result.falseNegatives, 0, "missed beats at \(fixture.samplingRate) Hz", file: file, line: line)
        XCTAssertEqual(
            result.falsePositives, 0, "extra detections at \(fixture.samplingRate) Hz", file: file, line: line)
        XCTAssertEqual(result.truePositives, fixture.beatTimes.count, file: file, line: line)
    }

    func testFindsEveryBeatAt360Hz() {
        assertAllBeatsFound(.regular(samplingRate: 360, beatsPerMinute: 72, duration: 60))
    }

    func testFindsEveryBeatAt250Hz() {
        assertAllBeatsFound(.regular(samplingRate: 250, beatsPerMinute: 72, duration: 60))
    }

    func testFindsEveryBeatAt128And500Hz() {
        assertAllBeatsFound(.regular(samplingRate: 128, beatsPerMinute: 65, duration: 60))
        assertAllBeatsFound(.regular(samplingRate: 500, beatsPerMinute: 90, duration: 60))
    }

    func testFindsEveryBeatDespiteStrongNoiseAndWander() {
        var fixture = SyntheticECG.regular(samplingRate: 360, beatsPerMinute: 80, duration: 60)
        fixture.noiseAmplitude = 0.08
        fixture.wanderAmplitude = 1.0
        assertAllBeatsFound(fixture)
    }

    func testFindsEveryBeatOfAnIrregularRhythmWithAPause() {
        var intervals: [Double] = []
        var random = FixtureRandom(seed: 7)
        for index in 0..<70 {
            // Atrial-fibrillation-like jitter between 0.45 and 1.15 s, and one 2.6 s sinus pause.
            intervals.append(index == 35 ? 2.6 : 0.45 + 0.7 * random.nextUniform())
        }
        assertAllBeatsFound(.intervals(intervals, samplingRate: 360))
        assertAllBeatsFound(.intervals(intervals, samplingRate: 250))
    }

    func testSearchBackFindsALowAmplitudeBeatTheThresholdMissed() {
        var fixture = SyntheticECG.regular(samplingRate: 360, beatsPerMinute: 70, duration: 40)
        var amplitudes = Array(repeating: 1.0, count: fixture.beatTimes.count)
        let weakBeat = 30
        amplitudes[weakBeat] = 0.2
        fixture.amplitudes = amplitudes
        let signal = fixture.samples()
        let weakSample = fixture.peakSamples[weakBeat]
        func found(_ detections: [Int]) -> Bool { detections.contains { abs($0 - weakSample) <= 54 } }

        var withoutSearchBack = QRSDetector.Configuration()
        withoutSearchBack.searchBackFactor = 1000
        XCTAssertFalse(
            found(QRSDetector(samplingRate: 360, configuration: withoutSearchBack).detect(signal)),
            "the weak beat must be under the plain threshold for this test to exercise search-back")
        let detections = QRSDetector(samplingRate: 360).detect(signal)
        XCTAssertTrue(found(detections), "search-back must recover the weak beat")
        XCTAssertEqual(match(fixture, detections).falsePositives, 0)
    }

    func testTheDetectorRelearnsAfterASuddenDropInGainAndRecoversTheBeatsItMissed() {
        // The gain falls 25-fold at 20 s (a loose electrode, an amplifier change): the learned threshold is far
        // above the new beats. After eight seconds without a beat the detector learns its levels again from
        // those eight seconds and classifies their humps once more, so no beat after the drop is lost.
        let fixture = SyntheticECG.regular(samplingRate: 360, beatsPerMinute: 72, duration: 90)
        var signal = fixture.samples()
        for index in 0..<(20 * 360) { signal[index] *= 25 }
        let detections = QRSDetector(samplingRate: 360).detect(signal)
        let afterDrop = fixture.peakSamples.filter { $0 > 21 * 360 }
        let result = BeatMatcher(samplingRate: 360, startTime: 21).match(reference: afterDrop, detected: detections)
        XCTAssertEqual(result, BeatMatchResult(truePositives: afterDrop.count))
    }

    func testRefinesDetectionsOntoTheRPeak() {
        let fixture = SyntheticECG.regular(samplingRate: 360, beatsPerMinute: 75, duration: 30)
        let detections = QRSDetector(samplingRate: 360).detect(fixture.samples())
        XCTAssertEqual(detections.count, fixture.beatTimes.count)
        for (detected, truth) in zip(detections, fixture.peakSamples) {
            XCTAssertLessThanOrEqual(abs(detected - truth), 3, "R peak placed \(detected - truth) samples off")
        }
    }

    func testAFlatLineHasNoBeats() {
        XCTAssertEqual(QRSDetector(samplingRate: 360).detect([Double](repeating: 0.4, count: 36_000)), [])
        XCTAssertEqual(QRSDetector(samplingRate: 360).detect([Double]()), [])
        XCTAssertEqual(QRSDetector(samplingRate: 360).detect([Double](repeating: .nan, count: 1000)), [])
        XCTAssertEqual(QRSDetector(samplingRate: 0).detect([Double](repeating: 1, count: 1000)), [])
    }

    func testInvalidSamplesDoNotHideTheOtherBeats() {
        let fixture = SyntheticECG.regular(samplingRate: 360, beatsPerMinute: 72, duration: 60)
        var signal = fixture.samples()
        let gap = 20 * 360..<(22 * 360)
        for index in gap { signal[index] = .nan }
        let detections = QRSDetector(samplingRate: 360).detect(signal)
        let outsideGap = fixture.peakSamples.filter { $0 < gap.lowerBound - 54 || $0 > gap.upperBound + 54 }
        let result = BeatMatcher(samplingRate: 360, startTime: 0).match(reference: outsideGap, detected: detections)
        XCTAssertEqual(result.falseNegatives, 0)
        XCTAssertTrue(detections.allSatisfy { !gap.contains($0) || true })
    }

    func testDetectionIsDeterministicAndAcceptsFloat() {
        let fixture = SyntheticECG.regular(samplingRate: 250, beatsPerMinute: 66, duration: 30)
        let signal = fixture.samples()
        let detector = QRSDetector(samplingRate: 250)
        XCTAssertEqual(detector.detect(signal), detector.detect(signal))
        XCTAssertEqual(detector.detect(signal.map { Float($0) }).count, fixture.beatTimes.count)
    }
}
