import ArgumentParser
import Foundation
import XCTest

@testable import Tracking
@testable import TrackingCommands

/// Pins what `pipe runs` prints.
final class RunsOutputTests: XCTestCase {
    private var utc: Cells { Cells(timeZone: TimeZone(identifier: "UTC") ?? .current) }

    private func twoRuns() throws -> (RunStore, RunID, RunID) {
        let store = try RunStore.inMemory(workspace: try makeTemporaryDirectory(self))
        let a = try store.addRun(
            params: ["train.lr": "0.001", "train.optimizer": "adam", "train.epochs": "10", "split": "inter-patient"],
            metrics: ["eval.accuracy": 0.912, "eval.f1.V": 0.81, "train.loss": 0.31],
            commit: "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d", dirty: false, start: fixedStart,
            id: RunID(rawValue: "01KAV9FT00AAAAAAAAAAAAAAAA"))
        let b = try store.addRun(
            params: ["train.lr": "0.0005", "train.optimizer": "sgd", "train.epochs": "10", "train.momentum": "0.9"],
            metrics: ["eval.accuracy": 0.934, "eval.f1.V": 0.81, "train.loss": 0.25],
            status: .failed, commit: "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", dirty: true,
            start: fixedStart.addingTimeInterval(3723),
            id: RunID(rawValue: "01KAVCVW00BBBBBBBBBBBBBBBB"))
        return (store, a, b)
    }

    func testDiffTextIsStable() throws {
        let (store, a, b) = try twoRuns()
        let text = RunDiffFormatter(cells: utc).render(try store.diff(a, b))
        XCTAssertEqual(
            text,
            """
            A  01KAV9FT  2025-11-24 16:00  succeeded  commit 1a2b3c4d (main)
            B  01KAVCVW  2025-11-24 17:02  failed     commit 9f8e7d6c* (main)

            params           A              B         delta
            split            inter-patient  -
            train.lr         0.001          0.0005  -0.0005
            train.momentum   -              0.9
            train.optimizer  adam           sgd

            metrics            A      B   delta
            eval.accuracy  0.912  0.934  +0.022
            train.loss      0.31   0.25   -0.06
            """ + "\n")
    }

    func testDiffWithAllShowsEqualRowsToo() throws {
        let (store, a, b) = try twoRuns()
        let text = RunDiffFormatter(cells: utc).render(try store.diff(a, b, all: true))
        XCTAssertTrue(text.contains("train.epochs     10             10            0\n"), text)
        XCTAssertTrue(text.contains("eval.f1.V       0.81   0.81       0\n"), text)
    }

    func testIdenticalRunsSayNoDifferences() throws {
        let store = try RunStore.inMemory(workspace: try makeTemporaryDirectory(self))
        let a = try store.addRun(params: ["x": "1"], metrics: ["m": 1], start: fixedStart)
        let b = try store.addRun(params: ["x": "1"], metrics: ["m": 1], start: fixedStart.addingTimeInterval(5))
        let text = RunDiffFormatter(cells: utc).render(try store.diff(a, b))
        XCTAssertTrue(text.hasSuffix("\nparams: no differences\n\nmetrics: no differences\n"), text)
    }

    func testListTableShowsDifferingParamsAndLatestMetrics() throws {
        let (store, _, _) = try twoRuns()
        let listing = try store.list()
        let text = RunListFormatter(format: .table, columns: nil, cells: utc).render(listing)
        XCTAssertEqual(
            text,
            """
            id        start             duration  status     commit     params.split   params.train.lr  params.train.momentum  params.train.optimizer  metrics.eval.accuracy  metrics.eval.f1.V  metrics.train.loss
            01KAVCVW  2025-11-24 17:02     1m00s  failed     9f8e7d6c*  -              0.0005           0.9                    sgd                                     0.934               0.81                0.25
            01KAV9FT  2025-11-24 16:00     1m00s  succeeded  1a2b3c4d   inter-patient  0.001            -                      adam                                    0.912               0.81                0.31

            """)
    }

    func testListCSVAndMarkdownFollowTheColumns() throws {
        let (store, _, _) = try twoRuns()
        let listing = try store.list(RunQuery(sort: [try SortKey(parsing: "metrics.eval.accuracy:desc")]))
        let columns: [RunField] = [.id, .status, .param("train.lr"), .metric("eval.accuracy")]
        XCTAssertEqual(
            RunListFormatter(format: .csv, columns: columns, cells: utc).render(listing),
            """
            id,status,params.train.lr,metrics.eval.accuracy
            01KAVCVW00BBBBBBBBBBBBBBBB,failed,0.0005,0.934
            01KAV9FT00AAAAAAAAAAAAAAAA,succeeded,0.001,0.912

            """)
        XCTAssertEqual(
            RunListFormatter(format: .md, columns: columns, cells: utc).render(listing),
            """
            | id | status | params.train.lr | metrics.eval.accuracy |
            | --- | --- | --- | ---: |
            | 01KAVCVW | failed | 0.0005 | 0.934 |
            | 01KAV9FT | succeeded | 0.001 | 0.912 |

            """)
    }

    func testListJSONCarriesEveryParamAndMetric() throws {
        let (store, _, _) = try twoRuns()
        let text = RunListFormatter(format: .json, columns: nil).render(try store.list(RunQuery(limit: 1)))
        let decoded = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]
        let run = try XCTUnwrap(decoded?.first)
        XCTAssertEqual(decoded?.count, 1)
        XCTAssertEqual(run["id"] as? String, "01KAVCVW00BBBBBBBBBBBBBBBB")
        XCTAssertEqual((run["params"] as? [String: String])?["train.epochs"], "10")
        XCTAssertEqual((run["metrics"] as? [String: Double])?["eval.accuracy"], 0.934)
        XCTAssertEqual(run["dirty"] as? Bool, true)
    }

    func testShowTextListsStagesParamsAndMetricHistory() throws {
        let (store, a, _) = try twoRuns()
        try store.recordStage(
            StageOutcome(
                stage: "train", signature: "abcdef0123456789", outcome: .ran,
                reason: "params changed", duration: 12.34, exitStatus: 0,
                logPath: "runs/\(a)/train.log", finishedAt: fixedStart), run: a)
        try store.logMetrics(
            [MetricPoint(key: "train.loss", value: 0.9, step: -1, timestamp: fixedStart)], run: a, stage: "train")
        let text = RunDetailFormatter(cells: utc).render(try store.show(a))
        XCTAssertTrue(text.hasPrefix("run 01KAV9FT00AAAAAAAAAAAAAAAA  (01KAV9FT)\n"), text)
        XCTAssertTrue(text.contains("  started  2025-11-24 16:00:00\n"), text)
        XCTAssertTrue(text.contains("  commit   1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d on main\n"), text)
        XCTAssertTrue(
            text.contains(
                "  train  ran      12.3s  exit 0  abcdef012345  params changed  runs/01KAV9FT00AAAAAAAAAAAAAAAA/train.log\n"
            ), text)
        XCTAssertTrue(text.contains("  eval.accuracy  evaluate  0.912\n"), text)
        XCTAssertTrue(text.contains("\nhistories\n"), text)
        XCTAssertTrue(text.contains("  train.loss  evaluate      2  -1…0     0.9 → 0.31  0.31  0.9\n"), text)
    }

    func testCommandsRejectBadFlagsAsValidationErrors() {
        XCTAssertThrowsError(try RunsCommand.parseAsRoot(["list", "--where", "metrics.acc >"]))
        XCTAssertThrowsError(try RunsCommand.parseAsRoot(["list", "--sort", "acc"]))
        XCTAssertThrowsError(try RunsCommand.parseAsRoot(["list", "--columns", "id,bogus"]))
        XCTAssertThrowsError(try RunsCommand.parseAsRoot(["list", "--limit", "0"]))
        XCTAssertThrowsError(try RunsCommand.parseAsRoot(["gc", "--keep", "-1"]))
        XCTAssertThrowsError(try RunsCommand.parseAsRoot(["diff", "@last"]))
        XCTAssertNoThrow(
            try RunsCommand.parseAsRoot([
                "list", "--where", "status = succeeded", "--sort", "metrics.acc:desc",
                "--limit", "50", "--columns", "id,metrics.acc", "--csv",
            ]))
        XCTAssertNoThrow(try RunsCommand.parseAsRoot(["show", "@last~2", "--json"]))
    }

    /// Three runs with 8 differing params and 30 metrics, the last of them from a train and an eval metrics file.
    private func wideRuns(headline: [String] = []) throws -> RunStore {
        let workspace = try makeTemporaryDirectory(self)
        let store = try RunStore.inMemory(workspace: workspace)
        try write(MetricsRecordingTests.trainJSON(epochs: 10, best: 7), to: "metrics/train.json", in: workspace)
        try write(MetricsRecordingTests.evalJSON, to: "metrics/eval.json", in: workspace)
        for index in 0..<3 {
            let params = Dictionary(uniqueKeysWithValues: (0..<8).map { ("train.param_\($0)", "value-\(index)-\($0)") })
            let metrics = Dictionary(
                uniqueKeysWithValues: (0..<28).map { ("extra.metric_\($0)", Double(index * 100 + $0)) })
            let run = try store.addRun(
                params: params, metrics: metrics, start: fixedStart.addingTimeInterval(Double(index) * 600),
                id: RunID(rawValue: "01KAV9FT0\(index)AAAAAAAAAAAAAAAA"))
            try store.recordMetricsFile(
                workspace.appendingPathComponent("metrics/train.json"), run: run, stage: "train", prefix: "train")
            try store.recordMetricsFile(
                workspace.appendingPathComponent("metrics/eval.json"), run: run, stage: "evaluate", prefix: "eval",
                headline: headline)
        }
        return store
    }

    func testTheDefaultTableFitsTheWidthAndCountsTheColumnsLeftOut() throws {
        let listing = try wideRuns().list()
        let formatter = RunListFormatter(format: .table, columns: nil, cells: utc, width: 120)
        let lines = formatter.render(listing).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 5, "header, three runs, the more-columns line")
        for line in lines { XCTAssertLessThanOrEqual(line.count, 120, line) }
        let shown = formatter.fittedColumns(listing, width: 120)
        let all = formatter.allColumns(listing)
        XCTAssertEqual(all.count, 5 + 8 + 28 + 6 + 3 + 2, "facts, params, extra, train, eval, structured")
        XCTAssertEqual(lines.last, "… \(all.count - shown.count) more columns (--columns K,..., --all)")
        XCTAssertEqual(Array(shown.prefix(4)), RunListFormatter.alwaysShown)
        let wide = RunListFormatter(format: .table, columns: nil, cells: utc, width: nil).render(listing)
        XCTAssertFalse(wide.contains("more column"), "--all shows every column")
        XCTAssertTrue(wide.contains("metrics.eval.confusion") && wide.contains("5×5"), wide)
    }

    func testWithoutHeadlinesTheLastStagesMetricsComeFirst() throws {
        let listing = try wideRuns().list()
        let shown = RunListFormatter(format: .table, columns: nil, cells: utc, width: 200).fittedColumns(
            listing, width: 200)
        XCTAssertEqual(
            shown.filter { if case .metric = $0 { return true } else { return false } }.prefix(3),
            [.metric("eval.accuracy"), .metric("eval.macro_f1"), .metric("eval.n")])
    }

    func testHeadlineMetricsComeFirstEvenWhenParamsFillTheWidth() throws {
        let listing = try wideRuns(headline: ["macro_f1", "accuracy"]).list()
        let formatter = RunListFormatter(format: .table, columns: nil, cells: utc, width: 140)
        let shown = formatter.fittedColumns(listing, width: 140)
        let metrics = shown.filter { if case .metric = $0 { return true } else { return false } }
        XCTAssertEqual(Array(metrics.prefix(2)), [.metric("eval.macro_f1"), .metric("eval.accuracy")])
        let header = try XCTUnwrap(formatter.render(listing).split(separator: "\n").first)
        XCTAssertLessThan(
            try XCTUnwrap(header.range(of: "params.train.param_0")).lowerBound,
            try XCTUnwrap(header.range(of: "metrics.eval.macro_f1")).lowerBound, "params, then headlines")
    }

    func testJSONAndCSVKeepEveryValue() throws {
        let listing = try wideRuns().list()
        let csv = RunListFormatter(format: .csv, columns: nil, cells: utc).render(listing)
        let header = try XCTUnwrap(csv.split(separator: "\n").first).split(separator: ",").map(String.init)
        XCTAssertEqual(header.count, 5 + 8 + 28 + 6 + 3 + 2)
        XCTAssertTrue(header.contains("metrics.train.val_loss") && header.contains("metrics.eval.per_class"))
        XCTAssertTrue(csv.contains("\"[[77,1,2,0,0],[2,3,0,0,0],[1,0,9,0,0],[1,0,2,1,0],[1,0,0,0,0]]\""), csv)
        let json = RunListFormatter(format: .json, columns: nil).render(listing)
        let runs = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        let metrics = try XCTUnwrap(runs.first?["metrics"] as? [String: Double])
        XCTAssertEqual(metrics.count, 28 + 6 + 3)
        XCTAssertEqual(metrics["train.val_loss"], 0.2, "a history's last value")
        let structured = try XCTUnwrap(runs.first?["structuredMetrics"] as? [String: Any])
        XCTAssertEqual((structured["eval.confusion"] as? [[Double]])?.first, [77, 1, 2, 0, 0])
        XCTAssertEqual(((structured["eval.per_class"] as? [String: [String: Double]])?["V"])?["se"], 0.9)
    }

    func testAnUnknownColumnNamesTheClosestMatch() throws {
        let listing = try wideRuns().list()
        XCTAssertThrowsError(try ListRunsCommand.checkColumns([.id, .metric("eval.acuracy")], in: listing)) { error in
            XCTAssertEqual(
                error as? TrackingError, .unknownColumn(key: "metrics.eval.acuracy", closest: "metrics.eval.accuracy"))
            XCTAssertEqual(
                "\(error)",
                "unknown column 'metrics.eval.acuracy' in --columns: no listed run has it (closest: metrics.eval.accuracy)"
            )
        }
        XCTAssertNoThrow(
            try ListRunsCommand.checkColumns([.metric("eval.confusion"), .param("train.param_1")], in: listing))
        XCTAssertThrowsError(try RunField(parsing: "stauts")) { error in
            XCTAssertTrue("\(error)".contains("(closest: status)"), "\(error)")
        }
    }

    func testTheWidthComesFromCOLUMNSElseTheTerminalElse120() {
        XCTAssertEqual(TerminalWidth.current(environment: ["COLUMNS": "80"]), 80)
        if isatty(STDOUT_FILENO) == 0 {
            XCTAssertEqual(TerminalWidth.current(environment: ["COLUMNS": "wide"]), 120)
            XCTAssertEqual(TerminalWidth.current(environment: [:]), 120)
        }
    }

    func testShowListsHistoriesAsHistoriesAndStructuredValuesAsTables() throws {
        let store = try wideRuns()
        let text = RunDetailFormatter(cells: utc).render(try store.show(try store.resolve("@last")))
        XCTAssertTrue(
            text.contains("\nhistories\n  key                 stage  steps  range   first → last    min    max\n"), text
        )
        XCTAssertTrue(text.contains("  train.val_loss      train     10  1…10         2 → 0.2    0.2      2\n"), text)
        XCTAssertTrue(
            text.contains("\nmetrics\n  key               stage     value\n  eval.accuracy     evaluate    0.9\n"), text
        )
        XCTAssertFalse(text.contains("train.epochs."), "no metric per epoch")
        XCTAssertTrue(text.contains("\neval.confusion  (5×5)\n      0  1  2  3  4\n  0  77  1  2  0  0\n"), text)
        XCTAssertTrue(text.contains("\neval.per_class  (5×4 table)\n       f1   ppv    se  support\n"), text)
        XCTAssertTrue(text.contains("\n  V   0.8   0.7   0.9       10\n"), text)
    }

    func testDiffJSONHasBothRunsAndDeltas() throws {
        let (store, a, b) = try twoRuns()
        let text = try RunJSON.encode(try store.diff(a, b))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let metrics = try XCTUnwrap(object["metrics"] as? [[String: Any]])
        XCTAssertEqual(metrics.map { $0["key"] as? String }, ["eval.accuracy", "train.loss"])
        XCTAssertEqual(try XCTUnwrap(metrics[0]["delta"] as? Double), 0.022, accuracy: 1e-12)
        let runA = try XCTUnwrap((object["a"] as? [String: Any])?["run"] as? [String: Any])
        XCTAssertEqual(runA["gitCommit"] as? String, "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d")
        XCTAssertEqual(runA["startedAt"] as? String, "2025-11-24T16:00:00Z")
    }
}
