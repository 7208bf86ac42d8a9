import ECGSignal
import XCTest

/// The low-quality stretches as `pipe qrs` and `pipe infer` report them: samples to frames, the share of the
/// record, the sentence of the verdict.
final class UnreadableStretchesTests: XCTestCase {
    func testSamplesOfAFasterSignalWidenOutwardsToWholeFrames() {
        XCTAssertEqual(UnreadableStretches.frames(ofSamples: [3..<9, 20..<21], samplesPerFrame: 2), [1..<5, 10..<11])
        XCTAssertEqual(UnreadableStretches.frames(ofSamples: [3..<9], samplesPerFrame: 1), [3..<9])
        XCTAssertEqual(
            UnreadableStretches.frames(ofSamples: [0..<5, 6..<10], samplesPerFrame: 4), [0..<3],
            "stretches that touch once widened become one")
    }

    func testTheShareTheMembershipAndTheSentence() {
        let stretches = UnreadableStretches(
            stretches: [360..<1080, 36_000..<57_600], frameCount: 72_000, frequency: 360)
        XCTAssertEqual(stretches.unreadableFrames, 720 + 21_600)
        XCTAssertEqual(stretches.fraction, 22_320.0 / 72_000, accuracy: 1e-12)
        XCTAssertTrue(stretches.contains(frame: 360))
        XCTAssertFalse(stretches.contains(frame: 1080))
        XCTAssertFalse(stretches.contains(frame: 0))
        XCTAssertTrue(stretches.contains(frame: 40_000))
        XCTAssertEqual(
            stretches.sentence,
            "31.0 % of the record (1:02 of 3:20) could not be read reliably (2 low-quality stretches)")
        let clipped = stretches.clipped(to: 720..<36_360)
        XCTAssertEqual(clipped.stretches, [720..<1080, 36_000..<36_360])
        XCTAssertEqual(clipped.frameCount, 35_640)
        XCTAssertEqual(
            UnreadableStretches(stretches: [], frameCount: 0, frequency: 360).sentence,
            "0.0 % of the record (0:00 of 0:00) could not be read reliably (0 low-quality stretches)")
    }
}
