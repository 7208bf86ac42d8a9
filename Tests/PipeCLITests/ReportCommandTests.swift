import Foundation
import Tracking
import XCTest

/// `pipe report` as a user runs it: the runs `pipe runs list` selects, one clear line and exit 2 on bad input.
final class ReportCommandTests: XCTestCase {
    /// A workspace with a two-stage pipeline and `count` finished runs (train.lr = 0.001 × (i + 1)).
    private func workspace(runs count: Int) throws -> (BinaryHarness, [RunID]) {
        let harness = try BinaryHarness()
        try harness.write(
            "pipeline.yaml",
            """
            stages:
              make:
                cmd: mkdir -p out && echo 1 > out/a
                outs: [out/a]
              score:
                cmd: cat out/a > out/b
                deps: [out/a]
                outs: [out/b]
            """)
        let store = try RunStore.open(workspace: harness.root)
        var ids: [RunID] = []
        for index in 0..<count {
            let start = Date(timeIntervalSince1970: 1_790_000_000 + Double(index) * 60)
            let id = try store.beginRun(
                kind: .repro, argv: ["pipe", "repro"], git: .none(), pipeVersion: "0.1.0", startedAt: start)
            try store.recordParams([RunParam(key: "train.lr", value: String(0.001 * Double(index + 1)))], run: id)
            try store.logMetrics(
                (1...3).map { MetricPoint(key: "train.loss", value: 1 / Double($0 + index), step: $0) }, run: id,
                stage: "score")
            try store.recordStages(
                [
                    StageOutcome(stage: "make", signature: "a", outcome: .ran, duration: 1),
                    StageOutcome(stage: "score", signature: "b", outcome: .failed, duration: 1),
                ], run: id)
            try store.finishRun(id, status: .succeeded, endedAt: start.addingTimeInterval(10))
            ids.append(id)
        }
        return (harness, ids)
    }

    private func reportedIDs(_ html: String) -> [String] {
        html.components(separatedBy: "<tr data-run=\"").dropFirst().compactMap { row in
            row.components(separatedBy: "data-id=\"").dropFirst().first?.components(separatedBy: "\"").first
        }
    }

    func testTheReportShowsTheRunsThatRunsListSelects() throws {
        let (harness, _) = try workspace(runs: 5)
        let filter = "params.train.lr > 0.0015"
        let list = try harness.run(["runs", "list", "--where", filter, "--limit", "3", "--json"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let listed = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]]
        ).compactMap { $0["id"] as? String }
        XCTAssertEqual(listed.count, 3)
        let report = try harness.run(["report", "--where", filter, "--limit", "3", "-o", "out.html"])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertTrue(report.stdout.hasPrefix("wrote out.html (3 runs, "), report.stdout)
        let html = try harness.read("out.html")
        XCTAssertEqual(reportedIDs(html), listed)
        XCTAssertTrue(html.contains("data-stage=\"make\" data-outcome=\"ran\""), "the graph from pipeline.yaml")
        XCTAssertTrue(html.contains("data-stage=\"score\" data-outcome=\"failed\""))
    }

    func testByDefaultTheReportShowsTheLastTenRunsInReportDotHTML() throws {
        let (harness, ids) = try workspace(runs: 12)
        let report = try harness.run(["report"])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertEqual(reportedIDs(try harness.read("report.html")), ids.suffix(10).reversed().map(\.rawValue))
        let named = try harness.run(["report", ids[0].rawValue, "@last", "-o", "two.html"])
        XCTAssertEqual(named.status, 0, named.stderr)
        XCTAssertEqual(reportedIDs(try harness.read("two.html")), [ids[0].rawValue, ids[11].rawValue])
    }

    func testBadInputIsOneLineExitTwoAndNoFile() throws {
        let (harness, _) = try workspace(runs: 2)
        let cases: [([String], String)] = [
            (["report", "ZZZZZZZZZZ", "-o", "r.html"], "no run matches 'ZZZZZZZZZZ'"),
            (
                ["report", "--where", "metrics.train.loss > 9", "-o", "r.html"],
                "no runs to report: no run matches --where metrics.train.loss > 9"
            ),
            (["report", "-o", "missing/folder/r.html"], "missing/folder/r.html: cannot write the report"),
        ]
        for (arguments, message) in cases {
            let result = try harness.run(arguments)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
            let files = try FileManager.default.contentsOfDirectory(atPath: harness.root.path)
            XCTAssertFalse(files.contains { $0.hasSuffix(".html") || $0.contains(".tmp-") }, "\(files)")
        }
        let badWhere = try harness.run(["report", "--where", "metrics.x >"])
        XCTAssertEqual(badWhere.status, 2, badWhere.stderr)
    }
}
