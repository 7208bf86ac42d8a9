import Foundation
import XCTest

@testable import Tracking

final class FilterExpressionTests: XCTestCase {
    typealias Comparison = FilterExpression.Comparison

    func testExpressionsParse() throws {
        let cases: [(String, [Comparison])] = [
            (
                "metrics.eval.accuracy > 0.9 and params.train.lr = 0.001 and status = succeeded",
                [
                    Comparison(.metric("eval.accuracy"), .greater, .number(0.9, text: "0.9")),
                    Comparison(.param("train.lr"), .equal, .number(0.001, text: "0.001")),
                    Comparison(.status, .equal, .text("succeeded")),
                ]
            ),
            ("metrics.acc>=0.5", [Comparison(.metric("acc"), .greaterOrEqual, .number(0.5, text: "0.5"))]),
            ("metrics.loss<=-1e-3", [Comparison(.metric("loss"), .lessOrEqual, .number(-0.001, text: "-1e-3"))]),
            ("params.optimizer != 'adam w'", [Comparison(.param("optimizer"), .notEqual, .text("adam w"))]),
            (#"params.name = "say \"hi\"""#, [Comparison(.param("name"), .equal, .text(#"say "hi""#))]),
            ("params.split = '0.8'", [Comparison(.param("split"), .equal, .text("0.8"))]),
            (
                "kind == verify AND dirty = false",
                [
                    Comparison(.kind, .equal, .text("verify")), Comparison(.dirty, .equal, .text("false")),
                ]
            ),
            (
                "branch = feature/x-1 and commit = 89abcdef",
                [
                    Comparison(.branch, .equal, .text("feature/x-1")), Comparison(.commit, .equal, .text("89abcdef")),
                ]
            ),
            ("duration < 60", [Comparison(.duration, .less, .number(60, text: "60"))]),
            ("start >= 2025-11-24", [Comparison(.start, .greaterOrEqual, .text("2025-11-24"))]),
            ("  status   =   failed  ", [Comparison(.status, .equal, .text("failed"))]),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(try FilterExpression(parsing: text).comparisons, expected, text)
        }
    }

    func testBadExpressionsSayWhereAndWhy() {
        let cases: [(String, Int, String)] = [
            ("", 1, "empty expression"),
            ("status", 7, "expected an operator"),
            ("status =", 9, "expected a value"),
            ("status = = succeeded", 10, "expected a value"),
            ("metrics.acc > 0.9 or status = failed", 19, "only 'and'"),
            ("metrics.acc > 0.9 status = failed", 19, "expected 'and'"),
            ("metrics.acc > 0.9 and", 22, "expected a comparison after 'and'"),
            ("accuracy > 0.9", 1, "not a run field"),
            ("metrics. > 1", 1, "missing the key"),
            ("status = succeded", 10, "unknown status 'succeded'"),
            ("kind = train", 8, "unknown kind"),
            ("metrics.acc > high", 15, "is a number"),
            ("dirty = maybe", 9, "true or false"),
            ("params.opt = 'adam", 14, "unterminated string"),
            ("metrics.acc =< 1", 14, "expected a value after"),
            ("metrics.acc ! 1", 13, "unknown operator '!'"),
            ("start > yesterday", 9, "takes a date"),
            ("= 3", 1, "expected a field name"),
        ]
        for (text, column, reason) in cases {
            XCTAssertThrowsError(try FilterExpression(parsing: text), text) { error in
                guard case TrackingError.badFilter(let expression, let reportedColumn, let reportedReason) = error
                else {
                    return XCTFail("\(text): \(error)")
                }
                XCTAssertEqual(expression, text)
                XCTAssertEqual(reportedColumn, column, "\(text): \(reportedReason)")
                XCTAssertTrue(reportedReason.contains(reason), "\(text): \(reportedReason)")
            }
        }
    }

    func testItem10_AKeyWithAnEmptyPartIsRefused() {
        for text in ["metrics..acc > 0", "metrics.acc. > 0", "params.train..lr = 1", "metric..x < 2"] {
            XCTAssertThrowsError(try FilterExpression(parsing: text), text) { error in
                guard case TrackingError.badFilter(_, 1, let reason) = error else {
                    return XCTFail("\(text): \(error)")
                }
                XCTAssertTrue(reason.contains("empty key part"), "\(text): \(reason)")
            }
        }
        XCTAssertThrowsError(try SortKey(parsing: "metrics..acc:desc"))
        XCTAssertEqual(try RunField(parsing: "metrics.eval.accuracy"), .metric("eval.accuracy"))
    }

    func testSortKeysParse() throws {
        XCTAssertEqual(try SortKey(parsing: "metrics.acc:desc"), SortKey(field: .metric("acc"), descending: true))
        XCTAssertEqual(try SortKey(parsing: "params.train.lr"), SortKey(field: .param("train.lr"), descending: false))
        XCTAssertEqual(try SortKey(parsing: "start:asc"), SortKey(field: .start, descending: false))
        XCTAssertThrowsError(try SortKey(parsing: "metrics.acc:down"))
        XCTAssertThrowsError(try SortKey(parsing: "accuracy"))
    }

    /// The same expressions evaluated by SQLite over a fixed set of runs.
    func testExpressionsSelectTheMatchingRuns() throws {
        let store = try RunStore.inMemory(workspace: try makeTemporaryDirectory(self))
        let day = 86_400.0
        let a = try store.addRun(
            params: ["train.lr": "0.001", "train.opt": "adam", "split": "0.8"],
            metrics: ["eval.accuracy": 0.95, "loss": 0.1], status: .succeeded,
            commit: "aaaaaaaa11111111111111111111111111111111", dirty: false, start: fixedStart, seconds: 30)
        let b = try store.addRun(
            params: ["train.lr": "1e-3", "train.opt": "sgd", "split": "0.80"],
            metrics: ["eval.accuracy": 0.85, "loss": 0.3], status: .failed,
            commit: "bbbbbbbb22222222222222222222222222222222", dirty: true,
            start: fixedStart.addingTimeInterval(day), seconds: 120)
        let c = try store.addRun(
            params: ["train.lr": "0.01", "train.opt": "adam w"],
            metrics: ["loss": 0.2], status: .succeeded,
            commit: "aaaaaaaa11111111111111111111111111111111", dirty: false,
            start: fixedStart.addingTimeInterval(2 * day), seconds: 90)
        let cases: [(String, Set<RunID>)] = [
            ("metrics.eval.accuracy > 0.9 and params.train.lr = 0.001 and status = succeeded", [a]),
            ("params.train.lr = 0.001", [a, b]),  // "1e-3" is the same number
            ("params.train.lr = '0.001'", [a]),  // quoted: text comparison
            ("params.split = 0.8", [a, b]),
            ("params.split != 0.8", []),  // c has no split: a missing param never matches
            ("params.train.lr > 0.005", [c]),
            ("params.train.opt = adam", [a]),
            ("params.train.opt = 'adam w'", [c]),
            ("params.train.opt != adam", [b, c]),
            ("metrics.eval.accuracy < 0.9", [b]),
            ("metrics.eval.accuracy >= 0", [a, b]),
            ("metrics.loss <= 0.2", [a, c]),
            ("status != succeeded", [b]),
            ("kind = repro", [a, b, c]),
            ("kind = verify", []),
            ("dirty = true", [b]),
            ("dirty = no", [a, c]),
            ("commit = aaaaaaaa", [a, c]),
            ("commit != aaaa", [b]),
            ("commit = bbbbbbbb22222222222222222222222222222222", [b]),
            ("branch = main", [a, b, c]),
            ("duration > 60", [b, c]),
            ("duration <= 30", [a]),
            ("start > \(Int(fixedStart.timeIntervalSince1970) + 3600)", [b, c]),
            ("start >= 2025-11-24T00:00:00Z and start < 2025-11-25T18:00:00Z", [a, b]),
            ("id = \(a.rawValue.lowercased())", [a]),
        ]
        for (text, expected) in cases {
            let found = try store.list(RunQuery(filter: try FilterExpression(parsing: text))).runs.map(\.run.id)
            XCTAssertEqual(Set(found), expected, text)
        }
    }
}
