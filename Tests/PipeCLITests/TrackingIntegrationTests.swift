import Foundation
import Tracking
import XCTest

/// `pipe repro` and `pipe verify` as runs in the store: commit, params with overrides, outcomes, metrics.
final class TrackingIntegrationTests: XCTestCase {
    private func git(_ arguments: [String], in directory: URL) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = ["-c", "user.name=t", "-c", "user.email=t@example.com"] + arguments
        process.currentDirectoryURL = directory
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testAReproIsARunWithCommitParamsOutcomesMetricsAndArtifacts() throws {
        let harness = try BinaryHarness()
        try harness.write(".gitignore", ".cache/\nruns/\nout/\n")
        try harness.write("stages/score.yaml", "lr: 0.001\nmodel:\n  depth: 3\n")
        try harness.write(
            "pipeline.yaml",
            """
            stages:
              score:
                cmd: mkdir -p out && echo '{"eval":{"accuracy":0.75},"n":4}' > out/metrics.json && echo x > out/model.bin
                params: [lr, model.depth]
                outs: [out/model.bin]
                metrics: [out/metrics.json]
            """)
        _ = try git(["init", "-q"], in: harness.root)
        _ = try git(["add", "-A"], in: harness.root)
        _ = try git(["commit", "-qm", "init"], in: harness.root)
        let head = try git(["rev-parse", "HEAD"], in: harness.root)

        XCTAssertEqual(try harness.run(["repro"]).status, 0)
        let overridden = try harness.run(["repro", "-S", "score.lr=0.01"])
        XCTAssertEqual(overridden.status, 0, overridden.stderr)

        let store = try RunStore.open(workspace: harness.root)
        let listing = try store.list(RunQuery())
        XCTAssertEqual(listing.runs.count, 2)
        let last = try store.show(try store.resolve("@last"))
        XCTAssertEqual(last.summary.run.gitCommit, head)
        XCTAssertEqual(last.summary.run.status, .succeeded)
        XCTAssertEqual(last.params.first { $0.key == "score.lr" }?.value, "0.01")
        XCTAssertEqual(last.params.first { $0.key == "score.lr" }?.overridden, true)
        XCTAssertEqual(last.params.first { $0.key == "score.model.depth" }?.value, "3")
        XCTAssertEqual(last.stages.first?.outcome, .ran)
        XCTAssertEqual(last.stages.first?.reason, "changed param lr")
        XCTAssertTrue(last.metrics.contains { $0.key == "metrics.eval.accuracy" && $0.last == 0.75 }, "\(last.metrics)")
        XCTAssertTrue(last.artifacts.contains { $0.path == "out/model.bin" })

        let filtered = try harness.run(["runs", "list", "--where", "params.score.lr = 0.01", "--json"])
        XCTAssertEqual(filtered.status, 0, filtered.stderr)
        XCTAssertTrue(filtered.stdout.contains(last.summary.run.id.rawValue), filtered.stdout)
    }

    func testAReproKilledWithSignalNineIsReportedInterrupted() throws {
        let harness = try BinaryHarness()
        try harness.write(
            "pipeline.yaml", "stages:\n  slow:\n    cmd: touch started && sleep 5 && echo > o\n    outs: [o]\n")
        let (process, _, _) = try harness.start(["repro"])
        try harness.waitForFile("started")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let listed = try harness.run(["runs", "list", "--json"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains("\"interrupted\""), listed.stdout)
        XCTAssertEqual(try harness.run(["repro"]).status, 0, "the next repro finishes the job")
    }

    /// A pipeline shaped like the default one (ten epochs in metrics/train.json, a 5×5 matrix and per-class scores
    /// in metrics/eval.json, ten params of which three differ): its listing fits 120 columns, headlines first.
    func testRunsListFitsTheTerminalAndShowListsTheTrainHistories() throws {
        let harness = try BinaryHarness()
        let epochs = (1...10).map { epoch in
            "{\"epoch\": \(epoch), \"lr\": 0.001, \"train_loss\": \(1.0 / Double(epoch)), \"train_accuracy\": 0.9, "
                + "\"val_loss\": \(2.0 / Double(epoch)), \"val_accuracy\": 0.8, \"val_macro_f1\": \(Double(epoch) / 20)}"
        }
        try harness.write(
            "fixtures/train.json",
            "{\"best_epoch\": 10, \"epochs_run\": 10, \"epochs\": [\(epochs.joined(separator: ", "))], \"val_loss\": 0.2}"
        )
        let classes = ["F", "N", "Q", "S", "V"].map {
            "\"\($0)\": {\"f1\": 0.5, \"ppv\": 0.5, \"se\": 0.5, \"support\": 10}"
        }
        try harness.write(
            "fixtures/eval.json",
            "{\"accuracy\": 0.91, \"macro_f1\": 0.62, \"n\": 50, \"split\": \"inter-patient\", \"per_class\": {"
                + classes.joined(separator: ", ") + "}, \"confusion\": "
                + "[[10,0,0,0,0],[0,10,0,0,0],[0,0,10,0,0],[0,0,0,10,0],[0,0,0,0,10]]}")
        try harness.write(
            "stages/train.yaml", (0..<10).map { "option_number_\($0): setting-\($0)-default\n" }.joined())
        try harness.write(
            "pipeline.yaml",
            """
            stages:
              train:
                cmd: mkdir -p metrics && cp fixtures/train.json metrics/train.json
                deps: [fixtures/train.json]
                params: [\((0..<10).map { "option_number_\($0)" }.joined(separator: ", "))]
                metrics: [metrics/train.json]
              evaluate:
                cmd: cp fixtures/eval.json metrics/eval.json
                deps: [fixtures/eval.json, metrics/train.json]
                metrics: [{path: metrics/eval.json, headline: [macro_f1, accuracy]}]
            """)
        XCTAssertEqual(try harness.run(["repro"]).status, 0)
        let overrides = ["-S", "train.option_number_1=other-value-1", "-S", "train.option_number_2=other-value-2"]
        let second = try harness.run(["repro"] + overrides + ["-S", "train.option_number_3=other-value-3"])
        XCTAssertEqual(second.status, 0, second.stderr)

        let list = try harness.run(["runs", "list"], environment: ["COLUMNS": ""])
        XCTAssertEqual(list.status, 0, list.stderr)
        let lines = list.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4, list.stdout)
        for line in lines { XCTAssertLessThanOrEqual(line.count, 120, line) }
        let header = try XCTUnwrap(lines.first)
        let macroF1 = try XCTUnwrap(header.range(of: "metrics.eval.macro_f1"), header)
        let accuracy = try XCTUnwrap(header.range(of: "metrics.eval.accuracy"), header)
        XCTAssertLessThan(macroF1.lowerBound, accuracy.lowerBound, "the declared headline order")
        XCTAssertFalse(list.stdout.contains("epochs."), list.stdout)
        let more = try XCTUnwrap(lines.last)
        XCTAssertTrue(more.hasPrefix("… ") && more.hasSuffix(" more columns (--columns K,..., --all)"), more)

        let all = try harness.run(["runs", "list", "--all"])
        XCTAssertTrue(all.stdout.contains("metrics.eval.confusion") && all.stdout.contains("5×5"), all.stdout)
        XCTAssertTrue(all.stdout.contains("params.train.option_number_3"), all.stdout)

        let typo = try harness.run(["runs", "list", "--columns", "id,metrics.eval.acuracy"])
        XCTAssertEqual(typo.status, 2)
        XCTAssertTrue(typo.stderr.contains("closest: metrics.eval.accuracy"), typo.stderr)

        let show = try harness.run(["runs", "show", "@last"])
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertTrue(show.stdout.contains("\nhistories\n"), show.stdout)
        for field in ["lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_macro_f1"] {
            XCTAssertNotNil(
                show.stdout.range(of: "\n  train.\(field) +train +10  1…10 ", options: .regularExpression), field)
        }
        XCTAssertTrue(show.stdout.contains("\neval.confusion  (5×5)\n"), show.stdout)

        let json = try harness.run(["runs", "list", "--json", "--limit", "1"])
        let runs = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let structured = try XCTUnwrap(runs.first?["structuredMetrics"] as? [String: Any])
        XCTAssertEqual(structured.keys.sorted(), ["eval.confusion", "eval.per_class"])
        XCTAssertEqual((runs.first?["metrics"] as? [String: Double])?["train.val_macro_f1"], 0.5)

        XCTAssertEqual(try harness.run(["repro"]).status, 0)
        let pipeline = try harness.read("pipeline.yaml")
        try harness.write("pipeline.yaml", pipeline.replacingOccurrences(of: "[macro_f1, accuracy]", with: "[n]"))
        let status = try harness.run(["status", "--check"])
        XCTAssertEqual(status.status, 0, "a headline is not part of the signature: \(status.stdout)")
    }
}
