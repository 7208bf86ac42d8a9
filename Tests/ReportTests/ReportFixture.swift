import Foundation
import Tracking

@testable import Report

/// Run stores made in the tests: runs with params, histories, evaluation keys and stage outcomes.
enum ReportFixture {
    /// Per class: support, and per row the predicted counts (rows truth). Supports differ, so the rows are named.
    static let classes = ["N", "S", "V", "F", "Q"]
    static let confusion: [[Double]] = [
        [90, 2, 1, 0, 0], [3, 20, 1, 0, 0], [1, 0, 30, 1, 0], [0, 0, 2, 5, 0], [0, 0, 0, 0, 8],
    ]

    struct Made {
        var store: RunStore
        var ids: [RunID]
        var root: URL
    }

    /// `count` runs a minute apart (oldest first in `ids`). Run i: params `train.lr` (varies), `train.note`
    /// (`note(i)`), `train.seed` (same everywhere); metrics `train.loss` and `train.accuracy` over `steps` steps,
    /// plus `extraMetrics` more histories; with `evaluation`, `eval.confusion.I.J` and `eval.per_class.C.F`.
    static func make(
        runs count: Int, steps: Int = 10, extraMetrics: Int = 0, evaluation: Bool = true,
        note: (Int) -> String = { "run \($0)" }, inMemory: Bool = true
    ) throws -> Made {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let store = inMemory ? try RunStore.inMemory(workspace: root) : try RunStore.open(workspace: root)
        var ids: [RunID] = []
        let base = Date(timeIntervalSince1970: 1_790_000_000)
        for index in 0..<count {
            let start = base.addingTimeInterval(Double(index) * 60)
            let id = try store.beginRun(
                kind: .repro, argv: ["pipe", "repro"],
                git: GitFacts(commit: String(repeating: "ab", count: 20), branch: "main", isDirty: index % 2 == 1),
                pipeVersion: "0.1.0", startedAt: start)
            ids.append(id)
            try store.recordParams(
                [
                    RunParam(key: "train.lr", value: String(0.001 * Double(index + 1))),
                    RunParam(key: "train.note", value: note(index)),
                    RunParam(key: "train.seed", value: "7"),
                ], run: id)
            var points: [MetricPoint] = []
            for step in 1...max(1, steps) {
                let t = start.addingTimeInterval(Double(step))
                let progress = Double(step) / Double(max(1, steps))
                points.append(
                    MetricPoint(key: "train.loss", value: lossValue(run: index, step: step), step: step, timestamp: t))
                points.append(
                    MetricPoint(
                        key: "train.accuracy", value: 0.5 + 0.4 * progress * (1 - 0.01 * Double(index)), step: step,
                        timestamp: t))
                for extra in 0..<extraMetrics {
                    points.append(
                        MetricPoint(
                            key: "train.m\(extra)", value: Double(extra) + sin(Double(step + index)), step: step,
                            timestamp: t))
                }
            }
            if evaluation {
                let t = start.addingTimeInterval(Double(steps) + 5)
                for (row, counts) in confusion.enumerated() {
                    for (column, value) in counts.enumerated() {
                        points.append(MetricPoint(key: "eval.confusion.\(row).\(column)", value: value, timestamp: t))
                    }
                    let support = counts.reduce(0, +)
                    let se = counts[row] / support
                    let ppv = counts[row] / confusion.reduce(0) { $0 + $1[row] }
                    let name = classes[row]
                    points.append(MetricPoint(key: "eval.per_class.\(name).se", value: se, timestamp: t))
                    points.append(MetricPoint(key: "eval.per_class.\(name).ppv", value: ppv, timestamp: t))
                    points.append(
                        MetricPoint(key: "eval.per_class.\(name).f1", value: 2 * se * ppv / (se + ppv), timestamp: t))
                    points.append(MetricPoint(key: "eval.per_class.\(name).support", value: support, timestamp: t))
                }
                points.append(MetricPoint(key: "eval.accuracy", value: 0.9 + 0.001 * Double(index), timestamp: t))
            }
            try store.logMetrics(points, run: id, stage: "train")
            try store.recordStages(
                [
                    StageOutcome(
                        stage: "prepare", signature: "s1", outcome: .skipped, reason: "up to date", duration: 0),
                    StageOutcome(
                        stage: "train", signature: "s2", outcome: .ran, reason: "changed param lr", duration: 12),
                    StageOutcome(stage: "evaluate", signature: "s3", outcome: index == 1 ? .failed : .ran, duration: 2),
                ], run: id)
            try store.finishRun(id, status: .succeeded, endedAt: start.addingTimeInterval(30 + Double(index)))
        }
        return Made(store: store, ids: ids, root: root)
    }

    /// 200 runs × 20 metrics × 100 steps, made once per test process (it takes seconds in a debug build).
    static let large: Result<Made, Error> = Result {
        try make(runs: 200, steps: 100, extraMetrics: 18, evaluation: false)
    }

    /// Run i's loss at a step: falls with the steps; a lower final loss for later runs.
    static func lossValue(run: Int, step: Int) -> Double {
        1.0 / Double(step) + 0.01 * Double(10 - run % 10)
    }

    static let header = ReportHeader(
        workspace: "/tmp/workspace",
        git: GitFacts(commit: String(repeating: "cd", count: 20), branch: "main", isDirty: true),
        generatedAt: Date(timeIntervalSince1970: 1_790_100_000), pipeVersion: "0.1.0", selection: "the last 10")

    static let stages = [
        ReportStage(name: "prepare", upstream: []), ReportStage(name: "train", upstream: ["prepare"]),
        ReportStage(name: "evaluate", upstream: ["train"]), ReportStage(name: "export", upstream: ["train"]),
    ]

    /// The page of `made`'s runs as `pipe report --limit N` selects them.
    static func content(_ made: Made, limit: Int = 10, metricFilter: [String]? = nil) throws -> ReportContent {
        var content = try ReportContent.load(
            store: made.store, selection: .query(RunQuery(sort: [.newestFirst], limit: limit), description: "test"),
            graph: nil, header: header, metricFilter: metricFilter)
        // The graph's shape (as PipelineEngine gives it) with the newest run's outcomes.
        let outcomes = Dictionary(content.stages.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        content.stages = stages.map { stage in
            var copy = stage
            copy.outcome = outcomes[stage.name]?.outcome
            copy.reason = outcomes[stage.name]?.reason
            copy.duration = outcomes[stage.name]?.duration
            return copy
        }
        content.stagesNote = nil
        return content
    }
}
