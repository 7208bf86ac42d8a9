import Foundation
import GRDB
import XCTest

@testable import Tracking

final class RunStoreTests: XCTestCase {
    private let git = GitFacts(commit: "89abcdef0123456789abcdef0123456789abcdef", branch: "main", isDirty: true)

    func testARunIsRunningUntilFinished() throws {
        let workspace = try makeTemporaryDirectory(self)
        let store = try RunStore.open(workspace: workspace)
        let run = try store.beginRun(
            kind: .repro, argv: ["pipe", "repro", "-S", "train.lr=0.01"], git: git, pipeVersion: "0.1.0")
        var record = try XCTUnwrap(store.show(run).summary.run)
        XCTAssertEqual(record.status, .running)
        XCTAssertEqual(record.pid, getpid())
        XCTAssertEqual(record.gitCommit, git.commit)
        XCTAssertTrue(record.gitDirty)
        XCTAssertEqual(record.argv, ["pipe", "repro", "-S", "train.lr=0.01"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: store.runFolder(run).path))
        XCTAssertEqual(store.runFolder(run).path, workspace.appendingPathComponent("runs/\(run)").path)

        try store.finishRun(run, status: .succeeded)
        record = try store.show(run).summary.run
        XCTAssertEqual(record.status, .succeeded)
        XCTAssertNotNil(record.endedAt)
    }

    func testItem7_AFinishedRunIsInTheMainFileNotOnlyInTheWAL() throws {
        let workspace = try makeTemporaryDirectory(self)
        let store = try RunStore.open(workspace: workspace)
        let run = try store.beginRun(kind: .repro, argv: ["pipe", "repro"], git: git, pipeVersion: "0.1.0")
        try store.finishRun(run, status: .succeeded)
        let wal = workspace.appendingPathComponent("runs/pipe.sqlite-wal").path
        let walSize = (try? FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int) ?? 0
        XCTAssertEqual(walSize, 0, "the WAL is checkpointed and truncated when a run finishes")

        // The main file alone, copied without its -wal and -shm, holds the run.
        let copy = try makeTemporaryDirectory(self)
        try FileManager.default.createDirectory(
            at: copy.appendingPathComponent("runs"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: store.path, toPath: copy.appendingPathComponent("runs/pipe.sqlite").path)
        let alone = try RunStore.open(workspace: copy)
        XCTAssertEqual(try alone.show(run).summary.run.status, .succeeded)
    }

    func testTheStoreIsAWALDatabaseUnderRuns() throws {
        let workspace = try makeTemporaryDirectory(self)
        let store = try RunStore.open(workspace: workspace)
        XCTAssertEqual(store.path, workspace.appendingPathComponent("runs/pipe.sqlite").path)
        let mode = try store.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        XCTAssertEqual(mode, "wal")
    }

    func testRunIDsAreSortableAndUnique() {
        let ids = (0..<1000).map { _ in RunID.make(at: fixedStart) }
        XCTAssertEqual(ids, ids.sorted())
        XCTAssertEqual(Set(ids).count, ids.count)
        XCTAssertTrue(ids.allSatisfy { RunID.isWellFormed($0.rawValue) })
        XCTAssertLessThan(RunID.make(at: fixedStart), RunID.make(at: fixedStart.addingTimeInterval(0.002)))
    }

    func testParamsKeepOverridesAndLaterValuesReplaceEarlierOnes() throws {
        let store = try RunStore.inMemory(workspace: try makeTemporaryDirectory(self))
        let run = try store.beginRun(kind: .repro, argv: [], git: git, pipeVersion: "0.1.0")
        try store.recordParams(
            [RunParam(key: "train.lr", value: "0.001"), RunParam(key: "train.epochs", value: "10")], run: run)
        try store.recordParams([RunParam(key: "train.lr", value: "0.01", overridden: true)], run: run)
        let detail = try store.show(run)
        XCTAssertEqual(detail.params.map(\.key), ["train.epochs", "train.lr"])
        XCTAssertEqual(detail.summary.params, ["train.lr": "0.01", "train.epochs": "10"])
        XCTAssertEqual(detail.summary.overriddenParams, ["train.lr"])
        XCTAssertEqual(detail.params.first { $0.key == "train.lr" }?.number, 0.01)
    }

    func testEveryMetricValueIsKeptAndTheLatestStepWins() throws {
        let store = try RunStore.inMemory(workspace: try makeTemporaryDirectory(self))
        let run = try store.beginRun(kind: .repro, argv: [], git: git, pipeVersion: "0.1.0")
        for (epoch, loss) in [(0, 2.0), (1, 0.5), (2, 0.75)] {
            try store.logMetrics(
                [
                    MetricPoint(key: "train.loss", value: loss, step: epoch, timestamp: fixedStart),
                    MetricPoint(key: "train.acc", value: Double(epoch) / 10, step: epoch, timestamp: fixedStart),
                ],
                run: run, stage: "train")
        }
        // A late-arriving earlier step does not replace the latest value.
        try store.logMetrics(
            [MetricPoint(key: "train.loss", value: 9, step: 1, timestamp: fixedStart)], run: run, stage: "train")
        let detail = try store.show(run)
        XCTAssertEqual(detail.summary.metrics["train.loss"], 0.75)
        let loss = try XCTUnwrap(detail.metrics.first { $0.key == "train.loss" })
        XCTAssertEqual(loss.count, 4)
        XCTAssertEqual(loss.first, 2.0)
        XCTAssertEqual(loss.last, 0.75)
        XCTAssertEqual(loss.min, 0.5)
        XCTAssertEqual(loss.max, 9)
        XCTAssertEqual(loss.steps.map(\.step), [0, 1, 1, 2])
        XCTAssertEqual(loss.stage, "train")
    }

    func testMetricsFilesAreFlattenedWithDots() throws {
        let workspace = try makeTemporaryDirectory(self)
        let store = try RunStore.inMemory(workspace: workspace)
        let run = try store.beginRun(kind: .repro, argv: [], git: git, pipeVersion: "0.1.0")
        try write(
            #"{"eval": {"accuracy": 0.93, "per_class": {"N": 0.99, "V": 0.9}}, "beats": 1200, "model": "cnn", "ok": true, "missing": null}"#,
            to: "metrics/eval.json", in: workspace)
        let logged = try store.recordMetricsFile(
            workspace.appendingPathComponent("metrics/eval.json"), run: run, stage: "evaluate")
        XCTAssertEqual(
            logged.scalars.map(\.key), ["beats", "eval.accuracy", "eval.per_class.N", "eval.per_class.V", "ok"])
        XCTAssertTrue(logged.scalars.allSatisfy { $0.step == 0 })
        XCTAssertEqual(
            try store.show(run).summary.metrics,
            ["beats": 1200, "eval.accuracy": 0.93, "eval.per_class.N": 0.99, "eval.per_class.V": 0.9, "ok": 1])
    }

    func testABadMetricsFileNamesTheFile() throws {
        let workspace = try makeTemporaryDirectory(self)
        let store = try RunStore.inMemory(workspace: workspace)
        let run = try store.beginRun(kind: .repro, argv: [], git: git, pipeVersion: "0.1.0")
        try write("[1, 2]", to: "m.json", in: workspace)
        try write("{oops", to: "broken.json", in: workspace)
        for name in ["m.json", "broken.json", "absent.json"] {
            let url = workspace.appendingPathComponent(name)
            XCTAssertThrowsError(try store.recordMetricsFile(url, run: run, stage: "evaluate")) { error in
                XCTAssertTrue("\(error)".contains(url.path), "\(error)")
            }
        }
    }

    func testStagesAndArtifactsAreRecorded() throws {
        let store = try RunStore.inMemory(workspace: try makeTemporaryDirectory(self))
        let run = try store.beginRun(kind: .verify, argv: [], git: git, pipeVersion: "0.1.0")
        try store.recordStage(
            StageOutcome(stage: "fetch", signature: "aa", outcome: .skipped, reason: "up to date", duration: 0.01),
            run: run)
        try store.recordStage(
            StageOutcome(
                stage: "train", signature: "bb", outcome: .failed, duration: 3, exitStatus: 1,
                logPath: "runs/\(run)/train.log"), run: run)
        try store.recordArtifacts(
            [RunArtifact(path: "models/model.onnx", sha256: "cd", size: 1234, stage: "export")], run: run)
        let detail = try store.show(run)
        XCTAssertEqual(detail.stages.map(\.stage), ["fetch", "train"])
        XCTAssertEqual(detail.stages.map(\.outcome), [.skipped, .failed])
        XCTAssertEqual(detail.stages[1].exitStatus, 1)
        XCTAssertEqual(detail.artifacts.map(\.path), ["models/model.onnx"])
        XCTAssertEqual(detail.summary.run.kind, .verify)
    }

    func testRunReferencesResolveByPrefixAndFromTheLast() throws {
        let store = try RunStore.inMemory(workspace: try makeTemporaryDirectory(self))
        let first = try store.addRun(
            params: [:], metrics: [:], start: fixedStart, id: RunID(rawValue: "01KAAAAAAA0000000000000000"))
        let second = try store.addRun(
            params: [:], metrics: [:], start: fixedStart, id: RunID(rawValue: "01KAAAAAAB0000000000000000"))
        let third = try store.addRun(
            params: [:], metrics: [:], start: fixedStart, id: RunID(rawValue: "01KBBBBBBB0000000000000000"))
        XCTAssertEqual(try store.resolve("@last"), third)
        XCTAssertEqual(try store.resolve("@last~0"), third)
        XCTAssertEqual(try store.resolve("@last~2"), first)
        XCTAssertEqual(try store.resolve("01kaaaaaab"), second)
        XCTAssertEqual(try store.resolve("01KB"), third)
        XCTAssertThrowsError(try store.resolve("01KAAAAAA")) { error in
            guard case TrackingError.ambiguousRun(_, let candidates) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(candidates.count, 2)
        }
        XCTAssertThrowsError(try store.resolve("@last~3")) {
            XCTAssertEqual($0 as? TrackingError, .runNotFound(reference: "@last~3"))
        }
        XCTAssertThrowsError(try store.resolve("@last~x"))
        XCTAssertThrowsError(try store.resolve("@first"))
        XCTAssertThrowsError(try store.resolve("not-an-id"))
    }

    func testShortIDsGrowUntilUnique() {
        XCTAssertEqual(
            RunStore.shortID("01KAAAAAAA0000000000000000", neighbours: ["01KAAAAAAB0000000000000000"]), "01KAAAAAAA")
        XCTAssertEqual(
            RunStore.shortID("01KAAAAAAA0000000000000000", neighbours: ["01KBBBBBBB0000000000000000"]), "01KAAAAA")
        XCTAssertEqual(RunStore.shortID("01KAAAAAAA0000000000000000", neighbours: []), "01KAAAAA")
    }

    func testListingSortsLimitsAndShowsOnlyDifferingParams() throws {
        let store = try RunStore.inMemory(workspace: try makeTemporaryDirectory(self))
        let low = try store.addRun(
            params: ["train.lr": "0.001", "train.epochs": "10"], metrics: ["acc": 0.80], start: fixedStart)
        let high = try store.addRun(
            params: ["train.lr": "0.01", "train.epochs": "10"], metrics: ["acc": 0.95],
            start: fixedStart.addingTimeInterval(60))
        let none = try store.addRun(
            params: ["train.lr": "0.1", "train.epochs": "10"], metrics: ["loss": 1],
            start: fixedStart.addingTimeInterval(120))

        XCTAssertEqual(try store.list().runs.map(\.run.id), [none, high, low])
        let byAccuracy = try store.list(RunQuery(sort: [SortKey(parsing: "metrics.acc:desc")]))
        XCTAssertEqual(byAccuracy.runs.map(\.run.id), [high, low, none], "runs without the metric sort last")
        XCTAssertEqual(
            try store.list(RunQuery(sort: [SortKey(parsing: "metrics.acc")])).runs.map(\.run.id), [low, high, none])
        XCTAssertEqual(
            try store.list(RunQuery(sort: [SortKey(parsing: "params.train.lr:desc")], limit: 2)).runs.map(\.run.id),
            [none, high])
        XCTAssertEqual(byAccuracy.differingParamKeys, ["train.lr"])
        XCTAssertEqual(byAccuracy.metricKeys, ["acc", "loss"])
    }

    func testDiffShowsDifferingRowsWithDeltasUnlessAll() throws {
        let store = try RunStore.inMemory(workspace: try makeTemporaryDirectory(self))
        let a = try store.addRun(
            params: ["train.lr": "0.001", "train.opt": "adam", "seed": "42"],
            metrics: ["acc": 0.9, "loss": 0.3], start: fixedStart)
        let b = try store.addRun(
            params: ["train.lr": "0.002", "train.opt": "sgd", "seed": "42"],
            metrics: ["acc": 0.9, "loss": 0.25], start: fixedStart.addingTimeInterval(1))
        let diff = try store.diff(a, b)
        XCTAssertEqual(diff.params.map(\.key), ["train.lr", "train.opt"])
        XCTAssertEqual(try XCTUnwrap(diff.params[0].delta), 0.001, accuracy: 1e-12)
        XCTAssertNil(diff.params[1].delta)
        XCTAssertEqual(diff.metrics.map(\.key), ["loss"])
        XCTAssertEqual(try XCTUnwrap(diff.metrics[0].delta), -0.05, accuracy: 1e-12)
        let all = try store.diff(a, b, all: true)
        XCTAssertEqual(all.params.map(\.key), ["seed", "train.lr", "train.opt"])
        XCTAssertEqual(all.metrics.map(\.key), ["acc", "loss"])
    }

    func testRemoveDeletesRowsAndFolders() throws {
        let workspace = try makeTemporaryDirectory(self)
        let store = try RunStore.open(workspace: workspace)
        let keep = try store.addRun(params: ["a": "1"], metrics: ["m": 1], start: fixedStart)
        let doomed = try store.addRun(params: ["a": "2"], metrics: ["m": 2], start: fixedStart.addingTimeInterval(1))
        try store.remove([doomed])
        XCTAssertEqual(try store.list().runs.map(\.run.id), [keep])
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.runFolder(doomed).path))
        let orphans = try store.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM metrics WHERE runId = ?", arguments: [doomed])
        }
        XCTAssertEqual(orphans, 0)
        XCTAssertThrowsError(try store.remove([doomed]))
    }

    func testRemovingALiveRunningRunIsRefused() throws {
        let store = try RunStore.inMemory(workspace: try makeTemporaryDirectory(self))
        let run = try store.beginRun(kind: .repro, argv: [], git: git, pipeVersion: "0.1.0")
        XCTAssertThrowsError(try store.remove([run])) { error in
            XCTAssertEqual(error as? TrackingError, .runStillRunning(id: run.rawValue, pid: getpid()))
        }
    }

    func testGarbageCollectionKeepsTheNewestRunsAndRemovesOrphanFolders() throws {
        let workspace = try makeTemporaryDirectory(self)
        let store = try RunStore.open(workspace: workspace)
        let runs = try (0..<5).map {
            try store.addRun(params: [:], metrics: [:], start: fixedStart.addingTimeInterval(Double($0)))
        }
        let orphan = workspace.appendingPathComponent("runs/01AAAAAAAAAAAAAAAAAAAAAAAA")
        let unrelated = workspace.appendingPathComponent("runs/notes")
        try FileManager.default.createDirectory(at: orphan, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: unrelated, withIntermediateDirectories: true)
        XCTAssertEqual(try store.collectGarbage(keep: 2), Array(runs.prefix(3)))
        XCTAssertEqual(try store.list().runs.map(\.run.id), [runs[4], runs[3]])
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.runFolder(runs[0]).path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: store.runFolder(runs[4]).path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: orphan.path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: unrelated.path))
    }

    func testTimesAreStoredAsSecondsSince1970() throws {
        let store = try RunStore.inMemory(workspace: try makeTemporaryDirectory(self))
        let run = try store.addRun(params: [:], metrics: ["m": 1], start: fixedStart)
        let row = try XCTUnwrap(
            try store.read { db in
                try Row.fetchOne(
                    db,
                    sql: """
                        SELECT typeof(startedAt) AS type, startedAt, endedAt - startedAt AS seconds,
                               (SELECT typeof(timestamp) FROM metrics WHERE runId = runs.id) AS metricType
                        FROM runs WHERE id = ?
                        """, arguments: [run])
            })
        XCTAssertEqual(row["type"] as String, "real")
        XCTAssertEqual(row["startedAt"] as Double, fixedStart.timeIntervalSince1970)
        XCTAssertEqual(row["seconds"] as Double, 60)
        XCTAssertEqual(row["metricType"] as String, "real")
    }

    func testSortingByAMetricFillsTheLimitWithRunsLackingIt() throws {
        let store = try RunStore.inMemory(workspace: try makeTemporaryDirectory(self))
        let old = try store.addRun(params: ["opt": "adam"], metrics: ["loss": 1], start: fixedStart)
        let scored = try store.addRun(
            params: ["opt": "adam"], metrics: ["acc": 0.5], start: fixedStart.addingTimeInterval(1))
        let new = try store.addRun(params: ["opt": "adam"], metrics: [:], start: fixedStart.addingTimeInterval(2))
        let other = try store.addRun(
            params: ["opt": "sgd"], metrics: ["acc": 0.9], start: fixedStart.addingTimeInterval(3))
        let query = RunQuery(
            filter: try FilterExpression(parsing: "params.opt = adam"),
            sort: [try SortKey(parsing: "metrics.acc:desc")], limit: 2)
        XCTAssertEqual(try store.list(query).runs.map(\.run.id), [scored, new])
        XCTAssertEqual(
            try store.list(RunQuery(sort: [try SortKey(parsing: "metrics.acc:desc")])).runs.map(\.run.id),
            [other, scored, new, old])
        XCTAssertEqual(
            try store.list(
                RunQuery(sort: [try SortKey(parsing: "metrics.acc:asc"), try SortKey(parsing: "start:asc")])
            )
            .runs.map(\.run.id), [scored, other, old, new])
    }
}
