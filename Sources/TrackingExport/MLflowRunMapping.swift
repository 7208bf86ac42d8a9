import Foundation
import Tracking

/// What one pipe run becomes on an MLflow server: a pure value, built from `RunStore.show`'s `RunDetail`.
///
/// | pipe | MLflow |
/// | --- | --- |
/// | params (`train.lr`, dotted as in `runs show`) | params, same keys; `-S` overrides listed in tag `pipe.overridden` |
/// | every metric value (step, time) | metric history, same key, step, timestamp in ms |
/// | status succeeded / failed / interrupted | FINISHED / FAILED / KILLED |
/// | start, end | start_time, end_time |
/// | commit, branch | tags `mlflow.source.git.commit`, `mlflow.source.git.branch` |
/// | command line, user | tags `mlflow.source.name`, `mlflow.user` |
/// | run id, dirty, kind, host, version | tags `pipe.run_id`, `pipe.dirty`, `pipe.kind`, `pipe.host`, `pipe.version` |
/// | each stage's outcome | tag `pipe.stage.NAME` = `ran in 1.2 s: changed param lr` |
public struct MLflowRunPayload: Sendable, Equatable {
    public var pipeRunID: String
    public var runName: String
    public var user: String
    public var startTime: Int64
    public var endTime: Int64?
    /// FINISHED, FAILED, KILLED (RUNNING for a run still going, which is not exported).
    public var status: String
    public var params: [MLflowKeyValue]
    public var metrics: [MLflowMetric]
    /// Tags sent with `runs/create` (so that a half-sent run is still found by its pipe id) and again in the batch.
    public var tags: [MLflowKeyValue]
    /// Workspace-relative files to upload as artifacts: plots, metrics files, ONNX models.
    public var artifacts: [ArtifactRecord]
}

public enum MLflowRunMapping {
    public static let pipeRunIDTag = "pipe.run_id"
    public static let overriddenTag = "pipe.overridden"
    public static let stageTagPrefix = "pipe.stage."
    /// MLflow's limits on a param value and a tag value (longer ones are cut, with a marker).
    static let paramValueLimit = 6000
    static let tagValueLimit = 8000
    /// The artifact kinds that are sent: the run's plots, metrics files and exported models.
    static let artifactExtensions: Set<String> = ["svg", "csv", "json", "onnx", "html", "png", "txt", "md"]

    public static func status(_ status: RunStatus) -> String {
        switch status {
        case .succeeded: return "FINISHED"
        case .failed: return "FAILED"
        case .interrupted: return "KILLED"
        case .running: return "RUNNING"
        }
    }

    public static func status(mlflow: String) -> RunStatus {
        switch mlflow {
        case "FINISHED": return .succeeded
        case "FAILED": return .failed
        case "KILLED": return .interrupted
        default: return .running
        }
    }

    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    static func date(milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    /// The MLflow view of a pipe run.
    public static func payload(_ detail: RunDetail) -> MLflowRunPayload {
        let run = detail.summary.run
        let params = detail.params.map { MLflowKeyValue(key: $0.key, value: cut($0.value, to: paramValueLimit)) }
        var metrics: [MLflowMetric] = []
        for history in detail.metrics {
            for step in history.steps {
                metrics.append(
                    MLflowMetric(
                        key: history.key, value: step.value, timestamp: milliseconds(step.timestamp), step: step.step))
            }
        }
        let runName = "\(run.kind.rawValue) \(detail.summary.shortID)"
        var tags: [MLflowKeyValue] = [
            .init(key: pipeRunIDTag, value: run.id.rawValue),
            .init(key: "mlflow.runName", value: runName),
            .init(key: "mlflow.user", value: run.user),
            .init(key: "mlflow.source.name", value: cut(run.argv.joined(separator: " "), to: tagValueLimit)),
            .init(key: "mlflow.source.type", value: "LOCAL"),
            .init(key: "pipe.dirty", value: run.gitDirty ? "true" : "false"),
            .init(key: "pipe.kind", value: run.kind.rawValue),
            .init(key: "pipe.host", value: run.host),
            .init(key: "pipe.version", value: run.pipeVersion),
        ]
        if !run.gitCommit.isEmpty { tags.append(.init(key: "mlflow.source.git.commit", value: run.gitCommit)) }
        if let branch = run.gitBranch { tags.append(.init(key: "mlflow.source.git.branch", value: branch)) }
        let overridden = detail.params.filter(\.overridden).map(\.key).sorted()
        if !overridden.isEmpty {
            tags.append(.init(key: overriddenTag, value: cut(overridden.joined(separator: ","), to: tagValueLimit)))
        }
        // A stage run twice in one run (never, today) keeps its last outcome.
        var stageTags: [String: String] = [:]
        var stageOrder: [String] = []
        for stage in detail.stages {
            if stageTags[stage.stage] == nil { stageOrder.append(stage.stage) }
            stageTags[stage.stage] = stageOutcomeText(stage)
        }
        for stage in stageOrder {
            if let value = stageTags[stage] {
                tags.append(.init(key: stageTagPrefix + stage, value: cut(value, to: tagValueLimit)))
            }
        }
        let artifacts = detail.artifacts.filter {
            artifactExtensions.contains(URL(fileURLWithPath: $0.path).pathExtension.lowercased())
        }
        return MLflowRunPayload(
            pipeRunID: run.id.rawValue, runName: runName, user: run.user, startTime: milliseconds(run.startedAt),
            endTime: run.endedAt.map(milliseconds), status: status(run.status), params: params, metrics: metrics,
            tags: tags, artifacts: artifacts)
    }

    /// `ran in 1.2 s: changed param lr`; the first word is the outcome, which an import reads back.
    static func stageOutcomeText(_ stage: StageRunRecord) -> String {
        var text = "\(stage.outcome.rawValue) in \(String(format: "%.1f", stage.duration)) s"
        if let reason = stage.reason, !reason.isEmpty { text += ": \(reason)" }
        return text
    }

    static func cut(_ text: String, to limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var result = ""
        for character in text {
            if result.utf8.count + character.utf8.count > limit - 3 { break }
            result.append(character)
        }
        return result + "..."
    }

    // MARK: Import

    /// The pipe view of an MLflow run, given each metric's full history.
    public static func importedRun(
        _ run: MLflowRun, histories: [String: [MLflowMetric]], server: String
    ) -> ImportedRun {
        let overridden = Set((run.tag(overriddenTag) ?? "").split(separator: ",").map(String.init))
        let params = run.params.sorted { $0.key < $1.key }.map {
            RunParam(key: $0.key, value: $0.value, overridden: overridden.contains($0.key))
        }
        var metrics: [(stage: String, point: MetricPoint)] = []
        for key in histories.keys.sorted() {
            let stage = key.split(separator: ".").first.map(String.init) ?? "mlflow"
            for metric in (histories[key] ?? []).sorted(by: { ($0.step, $0.timestamp) < ($1.step, $1.timestamp) }) {
                metrics.append(
                    (
                        stage: stage,
                        point: MetricPoint(
                            key: key, value: metric.value, step: Int(metric.step),
                            timestamp: date(milliseconds: metric.timestamp))
                    ))
            }
        }
        let startedAt = date(milliseconds: run.startTime ?? 0)
        let endedAt = run.endTime.map { date(milliseconds: $0) }
        var stages: [StageOutcome] = []
        for tag in run.tags where tag.key.hasPrefix(stageTagPrefix) {
            let name = String(tag.key.dropFirst(stageTagPrefix.count))
            let word = tag.value.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
            guard let outcome = StageOutcomeKind(rawValue: word) else { continue }
            let reason = tag.value.range(of: ": ").map { String(tag.value[$0.upperBound...]) }
            var duration = 0.0
            let words = tag.value.split(separator: " ")
            if words.count >= 3, words[1] == "in", let seconds = Double(words[2]) { duration = seconds }
            stages.append(
                StageOutcome(
                    stage: name, signature: "", outcome: outcome, reason: reason, duration: duration,
                    finishedAt: endedAt ?? startedAt))
        }
        stages.sort { $0.stage < $1.stage }
        let pipeID = run.tag(pipeRunIDTag).flatMap { RunID.isWellFormed($0) ? RunID(rawValue: $0) : nil }
        let kind = run.tag("pipe.kind").flatMap(RunKind.init(rawValue:)) ?? .repro
        let commit = run.tag("mlflow.source.git.commit") ?? ""
        let branch = run.tag("mlflow.source.git.branch")
        let git = GitFacts(
            commit: commit, branch: branch, isDetached: branch == nil && !commit.isEmpty,
            isDirty: run.tag("pipe.dirty") == "true")
        let status = status(mlflow: run.status)
        return ImportedRun(
            id: pipeID, kind: kind, status: status, startedAt: startedAt,
            endedAt: endedAt ?? (status == .running ? nil : startedAt),
            argv: ["mlflow", "import", server, run.runID], user: run.tag("mlflow.user") ?? run.userID ?? "",
            host: run.tag("pipe.host") ?? "mlflow", pipeVersion: run.tag("pipe.version") ?? "mlflow", git: git,
            params: params, metrics: metrics, stages: stages)
    }
}
