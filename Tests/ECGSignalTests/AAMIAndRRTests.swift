import ECGSignal
import XCTest

final class AAMIClassTests: XCTestCase {
    func testStandardMapFollowsTheDesign() {
        let map = AAMILabelMap.standard
        let expected: [String: AAMIClass] = [
            "N": .N, "L": .N, "R": .N, "e": .N, "j": .N, "A": .S, "a": .S, "J": .S, "S": .S, "V": .V, "E": .V,
            "F": .F, "/": .Q, "f": .Q, "Q": .Q,
        ]
        for (symbol, beatClass) in expected { XCTAssertEqual(map.beatClass(for: symbol), beatClass, symbol) }
        for symbol in ["+", "~", "|", "x", "!", "B", "r", "n", "?"] { XCTAssertNil(map.beatClass(for: symbol), symbol) }
        XCTAssertEqual(AAMIClass.allCases.map(\.index), [0, 1, 2, 3, 4])
    }

    func testACustomMapIsCheckedForUnknownClassesAndDuplicates() throws {
        let map = try AAMILabelMap(classes: ["N": ["N"], "Q": ["?", "B"]])
        XCTAssertEqual(map.beatClass(for: "B"), .Q)
        XCTAssertThrowsError(try AAMILabelMap(classes: ["X": ["N"]])) { error in
            XCTAssertEqual(error as? ECGSignalError, .unknownClass("X"))
        }
        XCTAssertThrowsError(try AAMILabelMap(classes: ["N": ["A"], "S": ["A"]])) { error in
            XCTAssertEqual(error as? ECGSignalError, .symbolInTwoClasses(symbol: "A", first: "N", second: "S"))
        }
    }
}

final class RRFeatureTests: XCTestCase {
    func testFeaturesOfAKnownSequence() {
        // At 100 Hz: intervals 1.0, 1.0, 0.5 (premature), 1.5 (compensatory pause).
        let features = RRFeatureExtractor.features(peaks: [0, 100, 200, 250, 400], samplingRate: 100)
        XCTAssertEqual(features.map(\.previous), [1.0, 1.0, 1.0, 0.5, 1.5])  // the first copies its next
        XCTAssertEqual(features.map(\.next), [1.0, 1.0, 0.5, 1.5, 1.5])  // the last copies its previous
        let means = features.map(\.localMean)
        XCTAssertEqual(means[0], 1.0, accuracy: 1e-12)
        XCTAssertEqual(means[3], 3.5 / 4, accuracy: 1e-12)
        XCTAssertEqual(means[4], 5.0 / 5, accuracy: 1e-12)
        XCTAssertEqual(features[3].previousRatio, 0.5 / (3.5 / 4), accuracy: 1e-12)
        XCTAssertEqual(features[3].nextRatio, 1.5 / (3.5 / 4), accuracy: 1e-12)
    }

    func testLocalMeanCoversTheLastTenIntervals() {
        // Ten intervals of 1 s, then ten of 0.5 s: by the last beat the mean is all 0.5 s.
        var peaks = [0]
        for index in 0..<20 { peaks.append((peaks.last ?? 0) + (index < 10 ? 100 : 50)) }
        let features = RRFeatureExtractor.features(peaks: peaks, samplingRate: 100)
        XCTAssertEqual(features[20].localMean, 0.5, accuracy: 1e-12)
        XCTAssertEqual(features[15].localMean, (5 * 1.0 + 5 * 0.5) / 10, accuracy: 1e-12)
    }

    func testFewerThanTwoBeatsGiveZeros() {
        XCTAssertEqual(RRFeatureExtractor.features(peaks: [], samplingRate: 360), [])
        let single = RRFeatureExtractor.features(peaks: [42], samplingRate: 360)
        XCTAssertEqual(single, [RRFeatures(previous: 0, next: 0, localMean: 0, previousRatio: 0, nextRatio: 0)])
    }
}
