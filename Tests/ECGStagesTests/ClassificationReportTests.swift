import ECGSignal
import ECGStages
import Foundation
import XCTest

final class ClassificationReportTests: XCTestCase {
    /// Twelve beats: F has support but is never predicted; Q is predicted once but has no support.
    ///
    ///     truth \ predicted   N  S  V  F  Q
    ///     N                   4  1  0  0  1
    ///     S                   1  2  0  0  0
    ///     V                   0  0  2  0  0
    ///     F                   1  0  0  0  0
    ///     Q                   0  0  0  0  0
    private func handMadeReport() throws -> ClassificationReport {
        let truth: [AAMIClass] = [.N, .N, .N, .N, .N, .N, .S, .S, .S, .V, .V, .F]
        let predicted: [AAMIClass] = [.N, .N, .N, .N, .S, .Q, .S, .S, .N, .V, .V, .N]
        return try ClassificationReport(truth: truth, predicted: predicted)
    }

    func testConfusionMatrixRowsAreTruthAndColumnsArePredictions() throws {
        let report = try handMadeReport()
        XCTAssertEqual(
            report.confusion,
            [[4, 1, 0, 0, 1], [1, 2, 0, 0, 0], [0, 0, 2, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]])
        XCTAssertEqual(report.count, 12)
        XCTAssertEqual(try ClassificationReport(confusion: report.confusion), report)
    }

    func testPerClassCountsAndScores() throws {
        let report = try handMadeReport()
        let n = report.metrics(for: .N)
        XCTAssertEqual([n.truePositives, n.falseNegatives, n.falsePositives, n.support], [4, 2, 2, 6])
        XCTAssertEqual(n.sensitivity, 4.0 / 6.0)
        XCTAssertEqual(n.positivePredictivity, 4.0 / 6.0)
        XCTAssertEqual(n.f1, 8.0 / 12.0)

        let s = report.metrics(for: .S)
        XCTAssertEqual([s.truePositives, s.falseNegatives, s.falsePositives, s.support], [2, 1, 1, 3])
        XCTAssertEqual(s.f1, 4.0 / 6.0)

        let v = report.metrics(for: .V)
        XCTAssertEqual([v.sensitivity, v.positivePredictivity, v.f1], [1, 1, 1])
    }

    func testAClassNeverPredictedScoresZeroPositivePredictivityNotNaN() throws {
        let f = try handMadeReport().metrics(for: .F)
        XCTAssertEqual(f.support, 1)
        XCTAssertEqual(f.sensitivity, 0)
        XCTAssertEqual(f.positivePredictivity, 0, "0/0 is defined as 0")
        XCTAssertEqual(f.f1, 0)
    }

    func testAClassWithoutSupportScoresZeroAndIsLeftOutOfMacroF1() throws {
        let report = try handMadeReport()
        let q = report.metrics(for: .Q)
        XCTAssertEqual([q.support, q.falsePositives], [0, 1])
        XCTAssertEqual([q.sensitivity, q.positivePredictivity, q.f1], [0, 0, 0])
        // Mean over N, S, V, F (support > 0): (2/3 + 2/3 + 1 + 0) / 4.
        XCTAssertEqual(report.macroF1, (8.0 / 12.0 + 4.0 / 6.0 + 1 + 0) / 4, accuracy: 1e-15)
        XCTAssertEqual(report.accuracy, 8.0 / 12.0)
    }

    func testAnEmptyReportScoresZeroEverywhere() throws {
        let report = try ClassificationReport(truth: [Int](), predicted: [])
        XCTAssertEqual(report.count, 0)
        XCTAssertEqual(report.accuracy, 0)
        XCTAssertEqual(report.macroF1, 0)
        let json = report.json(split: "test")
        XCTAssertFalse(json.contains("null") || json.lowercased().contains("nan"), json)
    }

    func testClassIndicesFollowAAMIOrder() throws {
        let report = try ClassificationReport(truth: [0, 1, 2, 3, 4], predicted: [0, 1, 2, 3, 4])
        for beatClass in AAMIClass.allCases {
            XCTAssertEqual(report.confusion[beatClass.index][beatClass.index], 1)
            XCTAssertEqual(report.metrics(for: beatClass).beatClass, beatClass)
        }
        XCTAssertEqual(report.perClass.map(\.beatClass), [.N, .S, .V, .F, .Q])
        XCTAssertEqual(report.accuracy, 1)
        XCTAssertEqual(report.macroF1, 1)
    }

    func testBadInputsAreRejectedWithTheirPosition() {
        XCTAssertThrowsError(try ClassificationReport(truth: [0, 1], predicted: [0])) { error in
            XCTAssertEqual(error as? ClassificationReportError, .lengthMismatch(truth: 2, predicted: 1))
        }
        XCTAssertThrowsError(try ClassificationReport(truth: [0, 1, 2], predicted: [0, 5, 2])) { error in
            XCTAssertEqual(
                error as? ClassificationReportError, .classIndexOutOfRange(list: "predicted", position: 1, value: 5))
        }
        XCTAssertThrowsError(try ClassificationReport(truth: [-1], predicted: [0])) { error in
            XCTAssertEqual(
                error as? ClassificationReportError, .classIndexOutOfRange(list: "true", position: 0, value: -1))
        }
        XCTAssertThrowsError(try ClassificationReport(confusion: [[1, 2], [3, 4]]))
        XCTAssertThrowsError(try ClassificationReport(confusion: Array(repeating: [0, 0, 0, 0, -1], count: 5)))
    }

    func testJSONHasExactlyTheEvalKeysSortedAtEveryLevel() throws {
        let json = try handMadeReport().json(split: "inter-patient")
        let expected = """
            {
              "accuracy": 0.6666666666666666,
              "confusion": [
                [4, 1, 0, 0, 1],
                [1, 2, 0, 0, 0],
                [0, 0, 2, 0, 0],
                [1, 0, 0, 0, 0],
                [0, 0, 0, 0, 0]
              ],
              "macro_f1": 0.5833333333333333,
              "n": 12,
              "per_class": {
                "F": {
                  "f1": 0.0,
                  "ppv": 0.0,
                  "se": 0.0,
                  "support": 1
                },
                "N": {
                  "f1": 0.6666666666666666,
                  "ppv": 0.6666666666666666,
                  "se": 0.6666666666666666,
                  "support": 6
                },
                "Q": {
                  "f1": 0.0,
                  "ppv": 0.0,
                  "se": 0.0,
                  "support": 0
                },
                "S": {
                  "f1": 0.6666666666666666,
                  "ppv": 0.6666666666666666,
                  "se": 0.6666666666666666,
                  "support": 3
                },
                "V": {
                  "f1": 1.0,
                  "ppv": 1.0,
                  "se": 1.0,
                  "support": 2
                }
              },
              "split": "inter-patient"
            }

            """
        XCTAssertEqual(json, expected)
    }

    func testJSONParsesToTheReportsValues() throws {
        let report = try realisticReport()
        let object = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(report.json(split: "random").utf8)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["split", "n", "accuracy", "macro_f1", "per_class", "confusion"])
        XCTAssertEqual(object["split"] as? String, "random")
        XCTAssertEqual(object["n"] as? Int, report.count)
        XCTAssertEqual(try XCTUnwrap(object["accuracy"] as? Double), report.accuracy, accuracy: 1e-15)
        XCTAssertEqual(try XCTUnwrap(object["macro_f1"] as? Double), report.macroF1, accuracy: 1e-15)
        XCTAssertEqual(object["confusion"] as? [[Int]], report.confusion)
        let perClass = try XCTUnwrap(object["per_class"] as? [String: [String: Any]])
        XCTAssertEqual(Set(perClass.keys), ["N", "S", "V", "F", "Q"])
        for metrics in report.perClass {
            let entry = try XCTUnwrap(perClass[metrics.beatClass.rawValue])
            XCTAssertEqual(Set(entry.keys), ["se", "ppv", "f1", "support"])
            XCTAssertEqual(try XCTUnwrap(entry["se"] as? Double), metrics.sensitivity, accuracy: 1e-15)
            XCTAssertEqual(try XCTUnwrap(entry["ppv"] as? Double), metrics.positivePredictivity, accuracy: 1e-15)
            XCTAssertEqual(try XCTUnwrap(entry["f1"] as? Double), metrics.f1, accuracy: 1e-15)
            XCTAssertEqual(entry["support"] as? Int, metrics.support)
        }
    }

    /// Foundation's JSONSerialization on Linux can read a double one or two ulps off, so the exact round trip is
    /// checked on the number text itself, with Swift's correctly rounded `Double(_: String)`.
    func testJSONNumbersReadBackExactly() throws {
        let report = try realisticReport()
        var numbers: [String: [Double]] = [:]
        for line in report.json(split: "random").split(separator: "\n") {
            let parts = line.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let key = parts.first?.trimmingCharacters(in: CharacterSet(charactersIn: "\"")),
                let value = parts.last.flatMap({ Double($0.trimmingCharacters(in: CharacterSet(charactersIn: " ,"))) })
            else { continue }
            numbers[key, default: []].append(value)
        }
        // Classes appear in key order: F N Q S V.
        let sorted = report.perClass.sorted { $0.beatClass.rawValue < $1.beatClass.rawValue }
        XCTAssertEqual(numbers["accuracy"], [report.accuracy])
        XCTAssertEqual(numbers["macro_f1"], [report.macroF1])
        XCTAssertEqual(numbers["se"], sorted.map(\.sensitivity))
        XCTAssertEqual(numbers["ppv"], sorted.map(\.positivePredictivity))
        XCTAssertEqual(numbers["f1"], sorted.map(\.f1))
    }

    private func realisticReport() throws -> ClassificationReport {
        try ClassificationReport(
            confusion: [
                [900, 7, 3, 1, 0], [13, 71, 2, 0, 0], [5, 1, 311, 4, 0], [2, 0, 9, 17, 0], [0, 0, 1, 0, 3],
            ])
    }

    func testJSONEscapesTheSplitName() throws {
        let json = try handMadeReport().json(split: "a \"quoted\"\\split\n")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual(object["split"] as? String, "a \"quoted\"\\split\n")
    }

    func testTableShowsScoresInPercentAndTheConfusionMatrix() throws {
        let table = try handMadeReport().table()
        let lines = table.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines.first, "class     Se%     +P%     F1%   support")
        XCTAssertEqual(lines[1], "N       66.67   66.67   66.67         6")
        XCTAssertEqual(lines[4], "F        0.00    0.00    0.00         1")
        XCTAssertTrue(table.contains("accuracy 66.67%   macro F1 58.33%   n 12"), table)
        XCTAssertTrue(table.contains("confusion (rows: truth, columns: predicted)"), table)
        XCTAssertTrue(table.contains("truth       N       S       V       F       Q\n"), table)
        XCTAssertTrue(table.contains("N           4       1       0       0       1\n"), table)
    }
}
