import XCTest

@testable import ECGSignal

/// Beat shape against the record's own median beat.
final class BeatMorphologyTests: XCTestCase {
    /// A narrow spike (the record's usual beat) or a wide, inverted one, in a window of `length` samples.
    private func window(wide: Bool, length: Int = 41, scale: Float = 1) -> [Float] {
        let centre = Float(length - 1) / 2
        return (0..<length).map { index in
            let distance = Float(index) - centre
            return wide ? -scale * 2 * exp(-distance * distance / 50) : scale * exp(-distance * distance / 4)
        }
    }

    func testAnOddBeatCorrelatesLessWithTheTemplateAndAUsualOneFully() {
        let shapes = [false, false, true, false, false, false, false]
        let windows = shapes.flatMap { window(wide: $0) }
        let amplitudes = shapes.map { $0 ? 2.0 : 1.0 }
        let features = BeatMorphology.features(windows: windows, length: 41, amplitudes: amplitudes, qrsHalfWidth: 5)
        XCTAssertEqual(features.count, shapes.count * 3)
        XCTAssertEqual(features[0], 1, accuracy: 1e-5, "a usual beat is the template")
        XCTAssertEqual(features[1], 1, accuracy: 1e-5)
        XCTAssertEqual(features[2], 1, accuracy: 1e-6, "its amplitude is the record's median")
        XCTAssertLessThan(features[2 * 3], 0, "the inverted beat anti-correlates")
        XCTAssertLessThan(features[2 * 3 + 1], 0.5)
        XCTAssertEqual(features[2 * 3 + 2], 2, accuracy: 1e-6)
    }

    func testScalingAWindowLeavesItsCorrelationsUnchanged() {
        let windows = window(wide: false) + window(wide: false) + window(wide: false, scale: 7)
        let features = BeatMorphology.features(
            windows: windows, length: 41, amplitudes: [1, 1, 7], qrsHalfWidth: 5)
        XCTAssertEqual(features[6], 1, accuracy: 1e-5)
        XCTAssertEqual(features[7], 1, accuracy: 1e-5)
    }

    func testAFlatWindowOrNoBeatsGiveZerosNotNaN() {
        let windows = window(wide: false) + [Float](repeating: 0.5, count: 41)
        let features = BeatMorphology.features(windows: windows, length: 41, amplitudes: [1, 0], qrsHalfWidth: 5)
        XCTAssertTrue(features.allSatisfy(\.isFinite))
        XCTAssertEqual(features[3], 0)
        XCTAssertTrue(BeatMorphology.features(windows: [], length: 41, amplitudes: [], qrsHalfWidth: 5).isEmpty)
    }
}

final class MedianSelectionTests: XCTestCase {
    func testSelectionFindsEveryRankOfShuffledValuesWithTies() {
        var generator = SystemRandomNumberGenerator()
        for count in [1, 2, 3, 7, 64, 255] {
            let values = (0..<count).map { _ in Float(Int.random(in: 0..<20, using: &generator)) }
            let sorted = values.sorted()
            for rank in Set([0, count / 2, count - 1]) {
                var copy = values
                let selected = copy.withUnsafeMutableBufferPointer { orderStatistic($0, rank: rank) }
                XCTAssertEqual(selected, sorted[rank], "rank \(rank) of \(count)")
                XCTAssertTrue(copy[..<rank].allSatisfy { $0 <= selected })
            }
        }
    }

    func testTheTemplateIsTheSampleBySampleMedian() {
        // Three windows of two samples: medians 2 and 5; four windows: the mean of the middle two.
        XCTAssertEqual(BeatMorphology.medianTemplate(windows: [1, 9, 2, 5, 3, 4], length: 2, count: 3), [2, 5])
        XCTAssertEqual(BeatMorphology.medianTemplate(windows: [1, 0, 2, 0, 4, 0, 8, 0], length: 2, count: 4), [3, 0])
    }
}
