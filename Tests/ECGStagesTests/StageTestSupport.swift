import Foundation
import PipelineEngine

/// Collects what a repro reports, so stage tests can read the stages' log lines.
final class CollectingObserver: ReproObserver, @unchecked Sendable {
    private let lock = NSLock()
    private(set) var lines: [String] = []
    /// Called with the step of each metrics batch, on the stage's thread.
    var onMetrics: ((Int) -> Void)?

    func stageStarted(_ stage: String, reason: StageReason) {}
    func stageOutput(_ stage: String, line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }
    func stageMetrics(_ stage: String, values: [String: Double], step: Int) { onMetrics?(step) }
    func stageFinished(_ result: StageResult) {}
    func warning(_ text: String) {}
}
