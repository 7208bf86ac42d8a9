import ECGSignal
import ECGStages
import Foundation
import XCTest

/// Scores per reference rhythm, the false-S rate inside atrial fibrillation, and the cross-validation record.
final class RhythmReportTests: XCTestCase {
    // Beats: four N in AFIB (one called S), two N and one S in N (all right), one V of no known rhythm.
    private let truth = [0, 0, 0, 0, 0, 0, 1, 2]
    private let predicted = [0, 1, 0, 0, 0, 0, 1, 0]
    private let rhythms: [String?] = ["AFIB", "AFIB", "AFIB", "AFIB", "N", "N", "N", nil]

    func testEachRhythmGetsItsOwnReportAndBeatsOfNoRhythmAreLeftOut() throws {
        let report = try RhythmReport(truth: truth, predicted: predicted, rhythms: rhythms)
        XCTAssertEqual(report.reports.map(\.rhythm), ["AFIB", "N"])
        XCTAssertEqual(report.reports[0].report.count, 4)
        XCTAssertEqual(report.reports[0].report.accuracy, 0.75)
        XCTAssertEqual(report.reports[1].report.metrics(for: .S).sensitivity, 1)
        XCTAssertEqual(report.reports.reduce(0) { $0 + $1.report.count }, 7)
    }

    func testTheFalseSRateCountsNormalBeatsInsideAtrialFibrillationCalledS() throws {
        let report = try RhythmReport(truth: truth, predicted: predicted, rhythms: rhythms)
        let afib = try XCTUnwrap(report.afibFalseS)
        XCTAssertEqual(afib.calledS, 1)
        XCTAssertEqual(afib.normalBeats, 4)
        XCTAssertTrue(report.table().contains("called S: 1 of 4 (25.00%)"), report.table())
    }

    func testWithoutAtrialFibrillationThereIsNoFalseSRate() throws {
        let report = try RhythmReport(truth: [0, 1], predicted: [1, 1], rhythms: ["N", "N"])
        XCTAssertNil(report.afibFalseS)
        XCTAssertTrue(try RhythmReport(truth: [0], predicted: [0], rhythms: [nil]).reports.isEmpty)
    }

    func testAMismatchedRhythmListIsAnError() {
        XCTAssertThrowsError(try RhythmReport(truth: [0, 1], predicted: [0, 1], rhythms: ["N"]))
    }

    func testACrossValidationResultSurvivesTheCheckpointMetadata() throws {
        let first = CrossValidationResult.Fold(
            records: ["101", "203"], report: try ClassificationReport(truth: truth, predicted: predicted),
            rhythms: try RhythmReport(truth: truth, predicted: predicted, rhythms: rhythms))
        let second = CrossValidationResult.Fold(
            records: ["118"], report: try ClassificationReport(truth: [0, 2], predicted: [2, 2]),
            rhythms: try RhythmReport(truth: [0, 2], predicted: [2, 2], rhythms: [nil, nil]))
        let result = CrossValidationResult(folds: [first, second])
        XCTAssertEqual(try CrossValidationResult(metadata: result.metadata, file: "m.ckpt"), result)
        XCTAssertEqual(try result.pooled().count, 10)
        XCTAssertEqual(try result.pooled().confusion[2][0], 1, "fold one's V called N")
        XCTAssertEqual(try result.pooled().confusion[0][2], 1, "fold two's N called V")
        XCTAssertEqual(try result.pooledRhythms().afibFalseS?.calledS, 1)
        XCTAssertTrue(result.table().contains("accuracy over the folds: "), result.table())
    }

    func testDamagedCrossValidationMetadataNamesTheFileAndEntry() throws {
        let fold = CrossValidationResult.Fold(
            records: ["101"], report: try ClassificationReport(truth: [0], predicted: [0]),
            rhythms: try RhythmReport(truth: [0], predicted: [0], rhythms: ["N"]))
        var metadata = CrossValidationResult(folds: [fold]).metadata
        metadata["cv_fold_confusions"] = "1 2 3"
        XCTAssertThrowsError(try CrossValidationResult(metadata: metadata, file: "m.ckpt")) {
            XCTAssertTrue("\($0)".contains("m.ckpt: the checkpoint's 'cv_fold_confusions'"), "\($0)")
        }
    }
}
