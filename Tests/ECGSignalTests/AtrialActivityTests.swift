import XCTest

@testable import ECGSignal

/// The atrial segment before the QRS against the record's median beat.
final class AtrialActivityTests: XCTestCase {
    static let rate = 360.0
    static let length = 187

    /// A min-max-like window: a QRS spike at the centre, and before it a P wave of `pHeight` peaking `pLead`
    /// seconds before the R peak, plus f waves of `fHeight` at 6 Hz (phase `phase`) over the whole window.
    private func window(pHeight: Float, pLead: Double = 0.16, fHeight: Float = 0, phase: Double = 0) -> [Float] {
        let centre = Double(Self.length - 1) / 2
        return (0..<Self.length).map { index in
            let t = (Double(index) - centre) / Self.rate
            let qrs = exp(-t * t / (2 * 0.008 * 0.008))
            let p = Double(pHeight) * exp(-(t + pLead) * (t + pLead) / (2 * 0.02 * 0.02))
            let f = Double(fHeight) * sin(2 * Double.pi * 6 * t + phase)
            return Float(qrs + p + f)
        }
    }

    private func features(_ windows: [[Float]]) -> [[Float]] {
        let flat = AtrialActivity.features(
            windows: windows.flatMap { $0 }, length: Self.length, samplingRate: Self.rate)
        let width = AtrialActivity.featureNames.count
        return (0..<windows.count).map { Array(flat[($0 * width)..<(($0 + 1) * width)]) }
    }

    func testABeatWithTheRecordsUsualPWaveMatchesTheTemplate() {
        let values = features(Array(repeating: window(pHeight: 0.15), count: 7))
        XCTAssertEqual(values[3][0], 1, accuracy: 1e-5, "the same P wave correlates fully")
        XCTAssertEqual(values[3][1], 0.5, accuracy: 1e-5, "and has the template's energy")
        // The line through the segment rises with the P wave, so the height above it is somewhat less than 0.15.
        XCTAssertTrue((0.08...0.15).contains(values[3][2]), "its height above the segment's line: \(values[3][2])")
        XCTAssertEqual(values[3][3], 0, accuracy: 1e-5, "nothing is left after the template")
    }

    func testABeatWithoutAPWaveOrWithAnEarlyOneStandsOut() {
        let usual = window(pHeight: 0.15)
        let values = features([usual, usual, window(pHeight: 0), usual, window(pHeight: 0.15, pLead: 0.23), usual])
        XCTAssertLessThan(values[2][1], 0.1, "no P wave: almost none of the energy")
        XCTAssertLessThan(values[2][2], 0.02)
        XCTAssertLessThan(values[4][0], 0.5, "an early P wave correlates less")
        XCTAssertGreaterThan(values[4][3], 0.02, "and leaves a residual")
    }

    func testFWavesLeaveAResidualThatAPWaveDoesNot() {
        let usual = window(pHeight: 0.15)
        let values = features([usual, usual, window(pHeight: 0, fHeight: 0.05, phase: 1), usual, usual])
        XCTAssertGreaterThan(values[2][3], 0.01)
        XCTAssertLessThan(values[0][3], 1e-5)
    }

    func testTheLocalTemplateLosesItsPWaveInsideAStretchWithoutPWaves() {
        // 20 sinus beats, then 20 beats with f waves of varying phase and no P wave.
        let sinus = (0..<20).map { _ in window(pHeight: 0.15) }
        let fibrillation = (0..<20).map { window(pHeight: 0, fHeight: 0.03, phase: Double($0) * 2.1) }
        let values = features(sinus + fibrillation)
        XCTAssertGreaterThan(values[5][5], 0.08, "among sinus beats the local template has a P wave")
        XCTAssertEqual(values[5][4], 1, accuracy: 1e-4)
        XCTAssertLessThan(values[35][5], 0.04, "among f waves of random phase it has almost none")
        XCTAssertLessThan(values[35][2], 0.05)
    }

    func testTheSlidingLocalTemplateIsTheMedianOfEachBeatsNeighbours() {
        var generator = SystemRandomNumberGenerator()
        for count in [1, 2, 5, 40] {
            // Values from a few levels, so that ties are common.
            let windows = (0..<(count * 11)).map { _ in Float(Int.random(in: 0..<6, using: &generator)) / 4 }
            let range = 2..<9
            let fast = AtrialActivity.localTemplates(windows: windows, length: 11, count: count, range: range)
            for beat in 0..<count {
                let first = max(0, beat - AtrialActivity.localBeats)
                let last = min(count - 1, beat + AtrialActivity.localBeats)
                let neighbours = first == last ? [beat] : (first...last).filter { $0 != beat }
                for (slot, offset) in range.enumerated() {
                    var values = neighbours.map { windows[$0 * 11 + offset] }
                    let median = values.withUnsafeMutableBufferPointer { medianInPlace($0) }
                    XCTAssertEqual(fast[beat * range.count + slot], median, "count \(count), beat \(beat)")
                }
            }
        }
    }

    func testBaselineDriftAcrossTheSegmentIsNotAtrialActivity() {
        let usual = window(pHeight: 0.15)
        let drifting = usual.enumerated().map { $0.element + Float($0.offset) * 0.002 }
        let values = features([usual, usual, drifting, usual, usual])
        XCTAssertEqual(values[2][0], 1, accuracy: 1e-4)
        XCTAssertEqual(values[2][3], 0, accuracy: 1e-4)
    }

    func testValuesStayInTheirRangesAndFlatWindowsGiveNoNaN() {
        var generator = SystemRandomNumberGenerator()
        let noisy = (0..<9).map { _ in (0..<Self.length).map { _ in Float.random(in: 0...1, using: &generator) } }
        let flat = [Float](repeating: 0.5, count: Self.length)
        let values = features(noisy + [flat, flat])
        for row in values {
            XCTAssertTrue(row.allSatisfy(\.isFinite), "\(row)")
            XCTAssertTrue((-1...1).contains(row[0]) && (0...1).contains(row[1]) && row[2] >= 0 && row[3] >= 0, "\(row)")
            XCTAssertTrue((-1...1).contains(row[4]) && row[5] >= 0, "\(row)")
        }
        XCTAssertEqual(values[9][0], 0)
        XCTAssertTrue(AtrialActivity.features(windows: [], length: Self.length, samplingRate: Self.rate).isEmpty)
    }

    func testTheSegmentScalesWithTheRateAndStaysInsideShortWindows() {
        XCTAssertEqual(AtrialActivity.segment(length: 187, samplingRate: 360), 3..<75)
        XCTAssertEqual(AtrialActivity.segment(length: 187, samplingRate: 128), 61..<87)
        let short = AtrialActivity.segment(length: 9, samplingRate: 360)
        XCTAssertTrue(short.lowerBound >= 0 && short.upperBound <= 9 && short.count >= 2, "\(short)")
    }
}
