import ContentStore
import Foundation
import XCTest

@testable import PipelineEngine

/// A temporary workspace that a test fills with files and a pipeline.
final class TemporaryWorkspace {
    let root: URL
    let registry: StageRegistry

    init(registry: StageRegistry = StageRegistry()) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        self.registry = registry
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    var workspace: Workspace { Workspace(root: root, registry: registry) }

    func write(_ path: String, _ text: String) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func read(_ path: String) throws -> String {
        String(decoding: try Data(contentsOf: root.appendingPathComponent(path)), as: UTF8.self)
    }

    func exists(_ path: String) -> Bool { FileStat.at(root.appendingPathComponent(path).path) != nil }

    func remove(_ path: String) throws { try FileManager.default.removeItem(at: root.appendingPathComponent(path)) }

    @discardableResult
    func repro(_ configure: (inout ReproOptions) -> Void = { _ in }) throws -> (ReproSummary, RecordingObserver) {
        var options = ReproOptions()
        configure(&options)
        let observer = RecordingObserver()
        return (try workspace.repro(options, observer: observer), observer)
    }

    /// A 4-stage diamond of shell commands: prepare → (features, labels) → train.
    /// Each stage appends its name to `runs.log`, so a test can also see from outside what ran.
    func writeDiamondPipeline() throws {
        try write("data/raw.txt", "raw data\n")
        try write("stages/features.yaml", "window: 187\nscale: 1.0\n")
        try write("stages/train.yaml", "lr: 0.001\nepochs: 10\n")
        try write(
            "pipeline.yaml",
            """
            stages:
              prepare:
                cmd: echo prepare >> runs.log && tr a-z A-Z < data/raw.txt > data/prepared.txt
                deps: [data/raw.txt]
                outs: [data/prepared.txt]
              features:
                cmd: echo features >> runs.log && (cat data/prepared.txt; grep window stages/features.yaml) > data/features.txt
                deps: [data/prepared.txt]
                params: [window, scale]
                outs: [data/features.txt]
              labels:
                cmd: echo labels >> runs.log && wc -c < data/prepared.txt > data/labels.txt
                deps: [data/prepared.txt]
                outs: [data/labels.txt]
              train:
                cmd: echo train >> runs.log && mkdir -p model && cat data/features.txt data/labels.txt stages/train.yaml > model/weights.txt && echo '{"acc":0.5}' > metrics.json
                deps: [data/features.txt, data/labels.txt]
                params: [lr, epochs]
                outs: [model]
                metrics: [metrics.json]

            """)
    }
}

/// Records a repro's events; thread-safe.
final class RecordingObserver: ReproObserver, @unchecked Sendable {
    private let lock = NSLock()
    private(set) var started: [(String, StageReason)] = []
    private(set) var lines: [(String, String)] = []
    private(set) var metrics: [(String, [String: Double], Int)] = []
    private(set) var warnings: [String] = []

    func stageStarted(_ stage: String, reason: StageReason) { locked { started.append((stage, reason)) } }
    func stageOutput(_ stage: String, line: String) { locked { lines.append((stage, line)) } }
    func stageMetrics(_ stage: String, values: [String: Double], step: Int) {
        locked { metrics.append((stage, values, step)) }
    }
    func stageFinished(_ result: StageResult) {}
    func warning(_ text: String) { locked { warnings.append(text) } }

    private func locked(_ body: () -> Void) {
        lock.lock()
        body()
        lock.unlock()
    }
}

extension ReproSummary {
    func reason(_ stage: String) -> StageReason? { results.first { $0.stage == stage }?.reason }
    func result(_ stage: String) -> StageResult? { results.first { $0.stage == stage } }
}
