import Foundation
import Tracking
import XCTest

@testable import TrackingExport

/// What a pipe run becomes in MLflow and what an MLflow run becomes in pipe, without a server.
final class MLflowRunMappingTests: XCTestCase {
    private func recordedRun(status: RunStatus = .succeeded) throws -> RunDetail {
        let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("mapping-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: workspace) }
        let store = try RunStore.inMemory(workspace: workspace)
        let start = Date(timeIntervalSince1970: 1_764_000_000.25)
        let git = GitFacts(
            commit: String(repeating: "ab", count: 20), branch: "main", isDetached: false, isDirty: true)
        let run = try store.beginRun(
            kind: .repro, argv: ["pipe", "repro", "-S", "train.lr=0.01"], git: git, pipeVersion: "9.9", startedAt: start
        )
        try store.recordParams(
            [RunParam(key: "train.lr", value: "0.01", overridden: true), RunParam(key: "train.epochs", value: "3")],
            run: run)
        for step in 0..<3 {
            try store.logMetrics(
                [
                    MetricPoint(
                        key: "train.loss", value: 1 / Double(step + 1), step: step,
                        timestamp: start.addingTimeInterval(Double(step) + 0.5))
                ], run: run, stage: "train")
        }
        try store.recordStage(
            StageOutcome(stage: "train", signature: "s", outcome: .ran, reason: "changed param lr", duration: 2.04),
            run: run)
        try store.recordArtifacts(
            [
                RunArtifact(path: "plots/loss.svg", sha256: "x", size: 1, stage: "train"),
                RunArtifact(path: "data/beats.bin", sha256: "y", size: 1, stage: "train"),
                RunArtifact(path: "models/model.onnx", sha256: "z", size: 1, stage: "export"),
            ], run: run)
        try store.finishRun(run, status: status, endedAt: start.addingTimeInterval(10))
        return try store.show(run)
    }

    func testParamsKeepTheirDottedNamesAndOverridesAreTagged() throws {
        let payload = MLflowRunMapping.payload(try recordedRun())
        XCTAssertEqual(
            payload.params,
            [MLflowKeyValue(key: "train.epochs", value: "3"), MLflowKeyValue(key: "train.lr", value: "0.01")])
        XCTAssertEqual(payload.tags.first { $0.key == "pipe.overridden" }?.value, "train.lr")
    }

    func testEveryMetricValueGoesWithItsStepAndMillisecondTimestamp() throws {
        let payload = MLflowRunMapping.payload(try recordedRun())
        XCTAssertEqual(payload.metrics.map(\.step), [0, 1, 2])
        XCTAssertEqual(payload.metrics.map(\.value), [1, 0.5, 1.0 / 3])
        XCTAssertEqual(payload.metrics.map(\.timestamp), [1_764_000_000_750, 1_764_000_001_750, 1_764_000_002_750])
        XCTAssertEqual(payload.startTime, 1_764_000_000_250)
        XCTAssertEqual(payload.endTime, 1_764_000_010_250)
    }

    func testTheTagsTheMLflowUIReadsAreSet() throws {
        let detail = try recordedRun()
        let tags = Dictionary(uniqueKeysWithValues: MLflowRunMapping.payload(detail).tags.map { ($0.key, $0.value) })
        XCTAssertEqual(tags["mlflow.source.git.commit"], String(repeating: "ab", count: 20))
        XCTAssertEqual(tags["mlflow.source.git.branch"], "main")
        XCTAssertEqual(tags["mlflow.source.name"], "pipe repro -S train.lr=0.01")
        XCTAssertEqual(tags["mlflow.user"], detail.summary.run.user)
        XCTAssertEqual(tags["mlflow.runName"], "repro \(detail.summary.shortID)")
        XCTAssertEqual(tags["pipe.run_id"], detail.summary.run.id.rawValue)
        XCTAssertEqual(tags["pipe.dirty"], "true")
        XCTAssertEqual(tags["pipe.stage.train"], "ran in 2.0 s: changed param lr")
    }

    func testStatusesMapToFinishedFailedAndKilled() throws {
        XCTAssertEqual(MLflowRunMapping.payload(try recordedRun(status: .succeeded)).status, "FINISHED")
        XCTAssertEqual(MLflowRunMapping.payload(try recordedRun(status: .failed)).status, "FAILED")
        XCTAssertEqual(MLflowRunMapping.payload(try recordedRun(status: .interrupted)).status, "KILLED")
        for status in RunStatus.allCases {
            XCTAssertEqual(MLflowRunMapping.status(mlflow: MLflowRunMapping.status(status)), status)
        }
    }

    func testOnlyPlotsMetricsFilesAndModelsAreArtifacts() throws {
        XCTAssertEqual(
            MLflowRunMapping.payload(try recordedRun()).artifacts.map(\.path), ["models/model.onnx", "plots/loss.svg"])
    }

    func testAnExportedRunImportsBackWithTheSameParamsMetricsAndFacts() throws {
        let detail = try recordedRun()
        let payload = MLflowRunMapping.payload(detail)
        let run = MLflowRun(
            runID: "abc", experimentID: "1", status: payload.status, startTime: payload.startTime,
            endTime: payload.endTime, artifactURI: nil, userID: nil, runName: payload.runName, latestMetrics: [],
            params: payload.params, tags: payload.tags)
        let imported = MLflowRunMapping.importedRun(
            run, histories: Dictionary(grouping: payload.metrics, by: \.key), server: "http://h")
        XCTAssertEqual(imported.id, detail.summary.run.id)
        XCTAssertEqual(imported.status, .succeeded)
        XCTAssertEqual(
            imported.params, detail.params.map { RunParam(key: $0.key, value: $0.value, overridden: $0.overridden) })
        XCTAssertEqual(imported.metrics.map(\.point.value), detail.metrics.flatMap { $0.steps.map(\.value) })
        XCTAssertEqual(imported.metrics.map(\.point.step), [0, 1, 2])
        XCTAssertEqual(imported.git.commit, detail.summary.run.gitCommit)
        XCTAssertEqual(imported.git.branch, "main")
        XCTAssertTrue(imported.git.isDirty)
        XCTAssertEqual(imported.startedAt, detail.summary.run.startedAt)
        XCTAssertEqual(imported.stages.map(\.stage), ["train"])
        XCTAssertEqual(imported.stages.first?.reason, "changed param lr")
        XCTAssertEqual(imported.stages.first?.outcome, .ran)
    }

    func testAnImportedRunIsStoredOnceWithItsHistory() throws {
        let detail = try recordedRun()
        let payload = MLflowRunMapping.payload(detail)
        let run = MLflowRun(
            runID: "abc", experimentID: "1", status: "FAILED", startTime: payload.startTime, endTime: payload.endTime,
            artifactURI: nil, userID: "u", runName: nil, latestMetrics: [], params: payload.params, tags: [])
        let imported = MLflowRunMapping.importedRun(
            run, histories: Dictionary(grouping: payload.metrics, by: \.key), server: "http://h")
        let other = try RunStore.inMemory(workspace: FileManager.default.temporaryDirectory)
        let link = RunLinkRecord(
            runId: RunID(rawValue: ""), system: "mlflow", server: "http://h", experimentId: "1", remoteRunId: "abc",
            direction: .import)
        let id = try other.insertImportedRun(imported, link: link)
        XCTAssertEqual(try other.insertImportedRun(imported, link: link), id, "a second import finds the link")
        let shown = try other.show(id)
        XCTAssertEqual(shown.summary.run.status, .failed)
        XCTAssertEqual(shown.metrics.first?.steps.map(\.step), [0, 1, 2])
        XCTAssertEqual(shown.summary.run.user, "u")
        XCTAssertEqual(try other.links(system: "mlflow", server: "http://h")[id]?.remoteRunId, "abc")
        XCTAssertEqual(try other.list().runs.count, 1)
    }
}
