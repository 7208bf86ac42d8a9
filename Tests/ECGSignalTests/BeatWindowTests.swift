import ECGSignal
import XCTest

final class BeatWindowTests: XCTestCase {
    private let ramp = (0..<1000).map { Double($0) }

    func testWindowIsCentredOnThePeak() {
        let windows = BeatWindowExtractor(length: 187, normalization: .none).extract(from: ramp, peaks: [500])
        XCTAssertEqual(windows.count, 1)
        let window = Array(windows.window(0))
        XCTAssertEqual(window.count, 187)
        XCTAssertEqual(window.first, 407)  // 93 before
        XCTAssertEqual(window[93], 500)
        XCTAssertEqual(window.last, 593)  // 93 after
    }

    func testWindowsThatDoNotFitAreSkippedAndCounted() {
        let windows = BeatWindowExtractor().extract(from: ramp, peaks: [92, 93, 500, 906, 907])
        XCTAssertEqual(windows.peakIndices, [1, 2, 3])
        XCTAssertEqual(windows.skippedOutOfBounds, 2)
        XCTAssertEqual(windows.skippedInvalid, 0)
        XCTAssertEqual(windows.samples.count, 3 * 187)
    }

    func testWindowsWithInvalidSamplesAreSkippedAndCounted() {
        var signal = ramp
        signal[300] = .nan
        let windows = BeatWindowExtractor().extract(from: signal, peaks: [250, 393, 394, 600])
        XCTAssertEqual(windows.peakIndices, [2, 3])
        XCTAssertEqual(windows.skippedInvalid, 2)
    }

    func testAnInfiniteSampleInvalidatesItsWindowsToo() {
        var signal = ramp
        signal[700] = -.infinity
        let windows = BeatWindowExtractor().extract(from: signal, peaks: [300, 650, 750])
        XCTAssertEqual(windows.peakIndices, [0])
        XCTAssertEqual(windows.skippedInvalid, 2)
    }

    func testEachWindowReportsItsPeakToPeakAmplitude() {
        let signal = (0..<400).map { sin(Double($0) / 9) * 3 + 7 }
        let windows = BeatWindowExtractor().extract(from: signal, peaks: [100, 200])
        for (index, peak) in [100, 200].enumerated() {
            let slice = signal[(peak - 93)...(peak + 93)]
            XCTAssertEqual(windows.amplitudes[index], (slice.max() ?? 0) - (slice.min() ?? 0))
        }
    }

    func testMinMaxNormalisationSpansZeroToOne() {
        let signal = (0..<400).map { sin(Double($0) / 9) * 3 + 7 }
        let window = Array(BeatWindowExtractor().extract(from: signal, peaks: [200]).window(0))
        XCTAssertEqual(window.min(), 0)
        XCTAssertEqual(window.max(), 1)
    }

    func testAFlatWindowNormalisesToZerosNotNaN() {
        let flat = [Double](repeating: 3, count: 400)
        for normalization in [BeatWindowNormalization.minMax, .zScore] {
            let window = BeatWindowExtractor(normalization: normalization).extract(from: flat, peaks: [200]).window(0)
            XCTAssertTrue(window.allSatisfy { $0 == 0 }, "\(normalization)")
        }
    }

    func testZScoreGivesZeroMeanAndUnitDeviation() {
        let signal = (0..<400).map { sin(Double($0) / 5) + 0.1 * Double($0 % 7) }
        let window = BeatWindowExtractor(normalization: .zScore).extract(from: signal, peaks: [200]).window(0)
            .map { Double($0) }
        let mean = window.reduce(0, +) / Double(window.count)
        let variance = window.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(window.count)
        XCTAssertEqual(mean, 0, accuracy: 1e-5)
        XCTAssertEqual(variance, 1, accuracy: 1e-4)
    }

    func testFloatInputAndAnEvenLength() {
        let windows = BeatWindowExtractor(length: 10, normalization: .none).extract(
            from: ramp.map { Float($0) }, peaks: [50])
        XCTAssertEqual(Array(windows.window(0)), (46..<56).map { Float($0) })  // 4 before, peak, 5 after
    }
}
