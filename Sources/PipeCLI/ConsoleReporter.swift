import Foundation
import PipelineEngine

/// Prints a repro as it happens: `[stage]`-prefixed output, one line per decision, a closing tally.
/// With `--json` the live lines go to stderr and stdout carries only the final JSON document.
final class ConsoleReporter: ReproObserver, @unchecked Sendable {
    let workspace: URL
    let json: Bool

    init(workspace: URL, json: Bool) {
        self.workspace = workspace
        self.json = json
    }

    private func say(_ line: String) { json ? Console.error(line) : Console.output(line) }

    func stageStarted(_ stage: String, reason: StageReason) { say("Running '\(stage)': \(reason)") }

    func stageOutput(_ stage: String, line: String) { say("[\(stage)] \(line)") }

    func stageProgress(_ stage: String, line: String) { Console.progress("[\(stage)] \(line)") }

    func stageMetrics(_ stage: String, values: [String: Double], step: Int) {
        let text = values.keys.sorted().map { "\($0)=\(values[$0] ?? 0)" }.joined(separator: " ")
        say("[\(stage)] step \(step): \(text)")
    }

    func warning(_ text: String) { Console.error("warning: \(text)") }

    func stageFinished(_ result: StageResult) {
        let seconds = String(format: "%.2f s", result.duration)
        switch result.outcome {
        case .ran: say("'\(result.stage)' ran in \(seconds) (\(result.reason))")
        case .restored: say("'\(result.stage)' restored from cache (\(result.reason))")
        case .skipped: say("'\(result.stage)' skipped: \(result.reason)")
        case .wouldRun: say("'\(result.stage)' would run: \(result.reason)")
        case .notRun: say("'\(result.stage)' not run: \(result.message ?? "")")
        case .failed:
            var line = "'\(result.stage)' failed: \(result.message ?? "unknown error")"
            if let log = result.logPath { line += " (log: \(relative(log)))" }
            Console.error(line)
        }
    }

    func finish(_ summary: ReproSummary, dryRun: Bool) {
        if json {
            let items = summary.results.map {
                ResultJSON(
                    stage: $0.stage, outcome: $0.outcome.rawValue, reason: $0.reason.code,
                    detail: $0.reason.description,
                    signature: $0.signature?.hex, seconds: $0.duration, exitStatus: $0.exitStatus.map(Int.init),
                    log: $0.logPath.map(relative), message: $0.message)
            }
            Console.output((try? JSONText.encode(items)) ?? "[]")
            return
        }
        let counts = [StageOutcome.ran, .restored, .skipped, .failed, .notRun, .wouldRun]
            .filter { summary.count($0) > 0 || [.ran, .restored, .skipped].contains($0) }
            .map { "\(summary.count($0)) \($0.rawValue.replacingOccurrences(of: "-", with: " "))" }
        say((dryRun ? "Dry run: " : "") + counts.joined(separator: ", ") + ".")
    }

    private func relative(_ path: String) -> String {
        let prefix = workspace.path + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }
}

struct ResultJSON: Encodable {
    var stage: String
    var outcome: String
    var reason: String
    var detail: String
    var signature: String?
    var seconds: Double
    var exitStatus: Int?
    var log: String?
    var message: String?
}
