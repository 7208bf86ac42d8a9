import Foundation
import GRDB
import XCTest

@testable import Tracking

/// How a stage's metrics file lands in the store: per-epoch lists as histories, matrices and tables as structured
/// values, the rest as scalars; and runs recorded before that still read.
final class MetricsRecordingTests: XCTestCase {
    private let git = GitFacts(commit: "0123456789abcdef0123456789abcdef01234567", branch: "main", isDirty: false)

    /// A `metrics/train.json` as ecg.train writes it: `epochs` records 1…N, the best epoch's validation figures and
    /// the last epoch's training figures at the top.
    static func trainJSON(epochs: Int, best: Int) -> String {
        let records = (1...epochs).map { epoch in
            "{\"epoch\": \(epoch), \"lr\": 0.001, \"train_loss\": \(1.0 / Double(epoch)), \"val_loss\": \(2.0 / Double(epoch)), \"val_macro_f1\": \(Double(epoch) / 100)}"
        }
        return """
            {"best_epoch": \(best), "epochs_run": \(epochs), "epochs": [\(records.joined(separator: ", "))],
             "train_loss": \(1.0 / Double(epochs)), "val_loss": \(2.0 / Double(best)), "val_macro_f1": \(Double(best) / 100)}
            """
    }

    /// A `metrics/eval.json` as ecg.evaluate writes it: scalars, per-class scores for N S V F Q, a 5×5 matrix.
    static let evalJSON = """
        {"accuracy": 0.9, "macro_f1": 0.6, "n": 100, "split": "inter-patient",
         "per_class": {"F": {"f1": 0.1, "ppv": 0.2, "se": 0.3, "support": 4}, "N": {"f1": 0.95, "ppv": 0.94, "se": 0.96, "support": 80},
                       "Q": {"f1": 0, "ppv": 0, "se": 0, "support": 1}, "S": {"f1": 0.5, "ppv": 0.4, "se": 0.6, "support": 5},
                       "V": {"f1": 0.8, "ppv": 0.7, "se": 0.9, "support": 10}},
         "confusion": [[77, 1, 2, 0, 0], [2, 3, 0, 0, 0], [1, 0, 9, 0, 0], [1, 0, 2, 1, 0], [1, 0, 0, 0, 0]]}
        """

    private func storeWithRun() throws -> (RunStore, RunID, URL) {
        let workspace = try makeTemporaryDirectory(self)
        let store = try RunStore.inMemory(workspace: workspace)
        let run = try store.beginRun(kind: .repro, argv: [], git: git, pipeVersion: "0.1.0")
        return (store, run, workspace)
    }

    func testTenEpochsBecomeOneHistoryPerFieldWithTenSteps() throws {
        let (store, run, workspace) = try storeWithRun()
        try write(Self.trainJSON(epochs: 10, best: 7), to: "metrics/train.json", in: workspace)
        let recorded = try store.recordMetricsFile(
            workspace.appendingPathComponent("metrics/train.json"), run: run, stage: "train", prefix: "train")
        XCTAssertEqual(
            recorded.histories.map(\.key), ["train.lr", "train.train_loss", "train.val_loss", "train.val_macro_f1"])
        XCTAssertEqual(recorded.scalars.map(\.key), ["train.best_epoch", "train.epochs_run"])
        let detail = try store.show(run)
        XCTAssertEqual(
            detail.summary.metrics.keys.sorted(),
            [
                "train.best_epoch", "train.epochs_run", "train.lr", "train.train_loss", "train.val_loss",
                "train.val_macro_f1",
            ])
        XCTAssertEqual(
            detail.summary.metrics["train.val_macro_f1"], 0.1, "the last epoch's value is the metric's value")
        let histories = try XCTUnwrap(try store.histories(of: [run])[run])
        XCTAssertEqual(
            histories.keys.sorted(), ["train.lr", "train.train_loss", "train.val_loss", "train.val_macro_f1"])
        for series in histories.values { XCTAssertEqual(series.steps, Array(1...10), series.key) }
        XCTAssertEqual(histories["train.val_loss"]?.values.first, 2.0)
    }

    func testPointsTheStageLoggedWhileRunningAreNotLoggedTwice() throws {
        let (store, run, workspace) = try storeWithRun()
        try store.logMetrics(
            (1...3).map { MetricPoint(key: "train.train_loss", value: 1.0 / Double($0), step: $0) }, run: run,
            stage: "train")
        try write(Self.trainJSON(epochs: 3, best: 3), to: "metrics/train.json", in: workspace)
        try store.recordMetricsFile(
            workspace.appendingPathComponent("metrics/train.json"), run: run, stage: "train", prefix: "train")
        let loss = try XCTUnwrap(try store.show(run).metrics.first { $0.key == "train.train_loss" })
        XCTAssertEqual(loss.steps.map(\.step), [1, 2, 3])
    }

    func testAConfusionMatrixAndPerClassScoresAreStructuredValues() throws {
        let (store, run, workspace) = try storeWithRun()
        try write(Self.evalJSON, to: "metrics/eval.json", in: workspace)
        try store.recordMetricsFile(
            workspace.appendingPathComponent("metrics/eval.json"), run: run, stage: "evaluate", prefix: "eval")
        let summary = try store.show(run).summary
        XCTAssertEqual(summary.metrics.keys.sorted(), ["eval.accuracy", "eval.macro_f1", "eval.n"])
        XCTAssertEqual(summary.structuredMetrics.keys.sorted(), ["eval.confusion", "eval.per_class"])
        guard case .array(let rows)? = summary.structuredMetrics["eval.confusion"] else { return XCTFail("no matrix") }
        XCTAssertEqual(rows.first, .array([77, 1, 2, 0, 0].map { JSONValue.number($0) }))
        XCTAssertEqual(summary.structuredMetrics["eval.per_class"]?.flattened(prefix: "p")["p.V.se"], 0.9)
        let listing = try store.list()
        XCTAssertEqual(listing.structuredMetricKeys, ["eval.confusion", "eval.per_class"])
        XCTAssertEqual(listing.metricKeys, ["eval.accuracy", "eval.macro_f1", "eval.n"])
    }

    func testTwoRowsOfScoresStayColumns() throws {
        let (store, run, workspace) = try storeWithRun()
        try write(
            #"{"auc": {"train": {"mean": 0.9}, "test": {"mean": 0.8}}, "sizes": [3, 4]}"#, to: "m.json", in: workspace)
        let recorded = try store.recordMetricsFile(workspace.appendingPathComponent("m.json"), run: run, stage: "s")
        XCTAssertEqual(recorded.scalars.map(\.key), ["auc.test.mean", "auc.train.mean"])
        XCTAssertEqual(recorded.structured, ["sizes": .array([.number(3), .number(4)])])
    }

    func testTwoRecordListsInOneObjectKeepTheirNames() throws {
        let (store, run, workspace) = try storeWithRun()
        try write(
            #"{"fit": [{"loss": 2}, {"loss": 1}], "tune": [{"loss": 5}, {"loss": 4}]}"#, to: "m.json", in: workspace)
        let recorded = try store.recordMetricsFile(workspace.appendingPathComponent("m.json"), run: run, stage: "s")
        XCTAssertEqual(recorded.histories.map(\.key), ["fit.loss", "tune.loss"])
        XCTAssertEqual(recorded.histories.map(\.steps), [[1, 2], [1, 2]])
    }

    func testHeadlinesAndTheLastMetricsFileChooseTheFirstColumns() throws {
        let (store, run, workspace) = try storeWithRun()
        try write(Self.trainJSON(epochs: 2, best: 2), to: "metrics/train.json", in: workspace)
        try write(Self.evalJSON, to: "metrics/eval.json", in: workspace)
        try store.recordMetricsFile(
            workspace.appendingPathComponent("metrics/train.json"), run: run, stage: "train", prefix: "train")
        try store.recordMetricsFile(
            workspace.appendingPathComponent("metrics/eval.json"), run: run, stage: "evaluate", prefix: "eval")
        XCTAssertEqual(try store.list().headlineMetricKeys, ["eval.accuracy", "eval.macro_f1", "eval.n"])

        let declared = try store.beginRun(kind: .repro, argv: [], git: git, pipeVersion: "0.1.0")
        try store.recordMetricsFile(
            workspace.appendingPathComponent("metrics/train.json"), run: declared, stage: "train", prefix: "train",
            headline: ["val_macro_f1"])
        try store.recordMetricsFile(
            workspace.appendingPathComponent("metrics/eval.json"), run: declared, stage: "evaluate", prefix: "eval",
            headline: ["macro_f1", "accuracy"])
        XCTAssertEqual(
            try store.list(RunQuery(limit: 1)).headlineMetricKeys,
            ["train.val_macro_f1", "eval.macro_f1", "eval.accuracy"])
    }

    /// A store written before structured values (migrations up to v2-run-links) with a run whose metrics file was
    /// flattened into one scalar per epoch field and matrix cell: it opens, migrates, lists and shows.
    func testARunRecordedBeforeStructuredValuesStillListsAndShows() throws {
        let workspace = try makeTemporaryDirectory(self)
        let folder = workspace.appendingPathComponent("runs")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let queue = try DatabaseQueue(path: folder.appendingPathComponent(RunStore.fileName).path)
        try Schema.migrator.migrate(queue, upTo: "v2-run-links")
        try queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO runs VALUES ('01KAV9FT00AAAAAAAAAAAAAAAA', 'repro', 'succeeded', 1764000000, 1764000060,
                        '["pipe","repro"]', 'u', 'h', 1, NULL, '0.1.0', '', NULL, 0);
                    INSERT INTO metrics (runId, stage, key, value, step, timestamp) VALUES
                        ('01KAV9FT00AAAAAAAAAAAAAAAA', 'train', 'train.epochs.0.val_loss', 0.5, 0, 1764000010),
                        ('01KAV9FT00AAAAAAAAAAAAAAAA', 'evaluate', 'eval.confusion.0.0', 77, 0, 1764000020),
                        ('01KAV9FT00AAAAAAAAAAAAAAAA', 'evaluate', 'eval.accuracy', 0.9, 0, 1764000020);
                    """)
        }
        try queue.close()
        let store = try RunStore.open(workspace: workspace)
        let listing = try store.list()
        XCTAssertEqual(listing.runs.count, 1)
        XCTAssertEqual(listing.metricKeys, ["eval.accuracy", "eval.confusion.0.0", "train.epochs.0.val_loss"])
        XCTAssertEqual(listing.headlineMetricKeys, [])
        XCTAssertEqual(listing.structuredMetricKeys, [])
        XCTAssertEqual(try store.show(RunID(rawValue: "01KAV9FT00AAAAAAAAAAAAAAAA")).metrics.count, 3)
    }
}
