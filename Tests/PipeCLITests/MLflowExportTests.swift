import Foundation
import Tracking
import XCTest

/// `pipe runs export mlflow`, the automatic export after `pipe repro` and `pipe runs import mlflow` against a real
/// MLflow server (one for the whole class, started in `setUp()` of the class, stopped by its pid in `tearDown()`),
/// checked through MLflow's own Python client.
final class MLflowExportTests: XCTestCase {
    nonisolated(unsafe) private static var server: MLflowTestServer?
    nonisolated(unsafe) private static var startFailure: Error?

    override class func setUp() {
        super.setUp()
        do {
            server = try MLflowTestServer.start()
        } catch {
            startFailure = error
        }
    }

    override class func tearDown() {
        server?.stop()
        server = nil
        super.tearDown()
    }

    private func liveServer() throws -> MLflowTestServer {
        if let skip = Self.startFailure as? XCTSkip { throw skip }
        if let failure = Self.startFailure { throw failure }
        guard let server = Self.server else { throw MLflowTestServer.Failure("no server") }
        return server
    }

    // MARK: Fixtures

    private func git(_ arguments: [String], in directory: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = ["-c", "user.name=t", "-c", "user.email=t@example.com"] + arguments
        process.currentDirectoryURL = directory
        process.standardOutput = Pipe()
        process.standardError = Pipe()
        try process.run()
        process.waitUntilExit()
    }

    /// A git workspace with one `cmd` stage that writes a metrics file and an SVG plot.
    private func makeWorkspace(extraYAML: String = "") throws -> BinaryHarness {
        let harness = try BinaryHarness()
        try harness.write(".gitignore", ".cache/\nruns/\nout/\n")
        try harness.write("stages/score.yaml", "lr: 0.001\nmodel:\n  depth: 3\n")
        try harness.write(
            "pipeline.yaml",
            """
            stages:
              score:
                cmd: mkdir -p out && echo '{"eval":{"accuracy":0.75},"n":4}' > out/metrics.json && echo '<svg/>' > out/plot.svg
                params: [lr, model.depth]
                outs: [out/plot.svg]
                metrics: [out/metrics.json]
            \(extraYAML)
            """)
        try git(["init", "-q", "-b", "main"], in: harness.root)
        try git(["add", "-A"], in: harness.root)
        try git(["commit", "-qm", "init"], in: harness.root)
        return harness
    }

    /// No server in the environment unless a test puts one there.
    private let quiet = ["MLFLOW_TRACKING_URI": "", "MLFLOW_TRACKING_TOKEN": "", "MLFLOW_TRACKING_USERNAME": ""]

    @discardableResult
    private func repro(_ harness: BinaryHarness, _ extra: [String] = [], environment: [String: String] = [:]) throws
        -> BinaryHarness.Output
    {
        let output = try harness.run(["repro"] + extra, environment: quiet.merging(environment) { $1 })
        XCTAssertEqual(output.status, 0, output.stderr)
        return output
    }

    private func export(_ harness: BinaryHarness, _ arguments: [String], experiment: String) throws
        -> BinaryHarness.Output
    {
        try harness.run(
            ["runs", "export", "mlflow", "--uri", try liveServer().uri, "--experiment", experiment] + arguments,
            environment: quiet)
    }

    /// A training-like history: `train.loss` at steps 0..<count for the run.
    private func logHistory(_ harness: BinaryHarness, run: RunID, key: String = "train.loss", steps: Range<Int>) throws
    {
        let store = try RunStore.open(workspace: harness.root)
        let start = Date()
        try store.logMetrics(
            steps.map {
                MetricPoint(
                    key: key, value: 1 / Double($0 + 1), step: $0, timestamp: start.addingTimeInterval(Double($0)))
            }, run: run, stage: "train")
    }

    /// What MLflow's client says about the runs of an experiment, by pipe run id.
    private struct ServerRun: Decodable {
        var run_id: String
        var status: String
        var start_time: Int64
        var end_time: Int64?
        var user_id: String?
        var params: [String: String]
        var tags: [String: String]
        /// key → [[step, value, timestamp]]
        var history: [String: [[Double]]]
        var artifacts: [String]
    }

    private func serverRuns(experiment: String) throws -> [String: ServerRun] {
        try liveServer().query(
            [String: ServerRun].self,
            """
            e = client.get_experiment_by_name(os.environ["EXPERIMENT"])
            out = {}
            if e is not None:
                for r in client.search_runs([e.experiment_id], max_results=5000):
                    def walk(path):
                        files = []
                        for a in client.list_artifacts(r.info.run_id, path):
                            files += walk(a.path) if a.is_dir else [a.path]
                        return files
                    history = {}
                    for key in r.data.metrics:
                        history[key] = [[m.step, m.value, m.timestamp]
                                        for m in client.get_metric_history(r.info.run_id, key)]
                    out[r.data.tags.get("pipe.run_id", r.info.run_id)] = {
                        "run_id": r.info.run_id, "status": r.info.status, "start_time": r.info.start_time,
                        "end_time": r.info.end_time, "user_id": r.info.user_id, "params": r.data.params,
                        "tags": r.data.tags, "history": history, "artifacts": sorted(walk(None))}
            print(json.dumps(out))
            """, environment: ["EXPERIMENT": experiment])
    }

    private func experimentName() -> String { "t-\(UUID().uuidString.prefix(8))" }

    // MARK: Export

    func testEveryParamMetricStepStatusTimeAndGitTagEqualsRunsShow() throws {
        let harness = try makeWorkspace()
        try repro(harness, ["-S", "score.lr=0.01"])
        let store = try RunStore.open(workspace: harness.root)
        let id = try store.resolve("@last")
        try logHistory(harness, run: id, steps: 0..<12)
        let experiment = experimentName()
        let exported = try export(harness, [], experiment: experiment)
        XCTAssertEqual(exported.status, 0, exported.stderr)
        XCTAssertTrue(exported.stdout.contains("1 exported, 0 updated, 0 skipped"), exported.stdout)

        let shown = try harness.run(["runs", "show", "@last", "--json"])
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
        let detail = try store.show(id)
        let remote = try XCTUnwrap(try serverRuns(experiment: experiment)[id.rawValue])

        let shownParams = try XCTUnwrap(json["params"] as? [[String: Any]])
        XCTAssertEqual(
            remote.params,
            Dictionary(
                uniqueKeysWithValues: shownParams.compactMap { p in
                    (p["key"] as? String).map { ($0, p["value"] as? String ?? "") }
                }))
        XCTAssertEqual(remote.params["score.lr"], "0.01")
        XCTAssertEqual(remote.params["score.model.depth"], "3")
        XCTAssertEqual(remote.tags["pipe.overridden"], "score.lr")

        let shownMetrics = try XCTUnwrap(json["metrics"] as? [[String: Any]])
        XCTAssertEqual(Set(remote.history.keys), Set(shownMetrics.compactMap { $0["key"] as? String }))
        for history in detail.metrics {
            let points = try XCTUnwrap(remote.history[history.key], history.key)
            XCTAssertEqual(points.map { Int64($0[0]) }, history.steps.map(\.step), history.key)
            XCTAssertEqual(points.map { $0[1] }, history.steps.map(\.value), history.key)
            XCTAssertEqual(
                points.map { Int64($0[2]) },
                history.steps.map { Int64(($0.timestamp.timeIntervalSince1970 * 1000).rounded()) }, history.key)
        }
        XCTAssertEqual(remote.history["train.loss"]?.count, 12)

        let run = detail.summary.run
        XCTAssertEqual(remote.status, "FINISHED")
        XCTAssertEqual(remote.start_time, Int64((run.startedAt.timeIntervalSince1970 * 1000).rounded()))
        XCTAssertEqual(
            remote.end_time, run.endedAt.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) })
        let summary = try XCTUnwrap(json["summary"] as? [String: Any])
        let shownRun = try XCTUnwrap(summary["run"] as? [String: Any])
        XCTAssertEqual(remote.tags["mlflow.source.git.commit"], shownRun["gitCommit"] as? String)
        XCTAssertEqual(remote.tags["mlflow.source.git.branch"], "main")
        XCTAssertEqual(remote.tags["mlflow.user"], shownRun["user"] as? String)
        XCTAssertEqual(remote.user_id, shownRun["user"] as? String)
        XCTAssertEqual(remote.tags["mlflow.source.name"], "pipe repro -S score.lr=0.01")
        XCTAssertEqual(remote.tags["mlflow.runName"], "repro \(detail.summary.shortID)")
        XCTAssertEqual(remote.tags["pipe.run_id"], id.rawValue)
        XCTAssertEqual(remote.tags["pipe.dirty"], "false")
        XCTAssertTrue(remote.tags["pipe.stage.score"]?.hasPrefix("ran in ") == true, "\(remote.tags)")
        XCTAssertEqual(remote.artifacts, ["out/metrics.json", "out/plot.svg"])

        let link = try store.links(system: "mlflow", server: try liveServer().uri)[id]
        XCTAssertEqual(link?.remoteRunId, remote.run_id, "the mapping is kept in the run store")
    }

    func testASecondExportAddsNothingAndUpdateAddsANewMetric() throws {
        let harness = try makeWorkspace()
        try repro(harness)
        let id = try RunStore.open(workspace: harness.root).resolve("@last")
        try logHistory(harness, run: id, steps: 0..<3)
        let experiment = experimentName()
        XCTAssertEqual(try export(harness, [], experiment: experiment).status, 0)
        let first = try serverRuns(experiment: experiment)

        let again = try export(harness, [], experiment: experiment)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("0 exported, 0 updated, 1 skipped"), again.stdout)
        let second = try serverRuns(experiment: experiment)
        XCTAssertEqual(second.count, 1)
        XCTAssertEqual(second[id.rawValue]?.history, first[id.rawValue]?.history, "nothing added")

        try logHistory(harness, run: id, key: "train.val_acc", steps: 0..<2)
        try logHistory(harness, run: id, steps: 3..<4)
        let updated = try export(harness, ["--update"], experiment: experiment)
        XCTAssertEqual(updated.status, 0, updated.stderr)
        XCTAssertTrue(updated.stdout.contains("0 exported, 1 updated, 0 skipped"), updated.stdout)
        let third = try XCTUnwrap(try serverRuns(experiment: experiment)[id.rawValue])
        XCTAssertEqual(third.history["train.val_acc"]?.count, 2, "the new metric is added")
        XCTAssertEqual(third.history["train.loss"]?.map { Int($0[0]) }, [0, 1, 2, 3], "one new step, none doubled")
        XCTAssertEqual(third.history["metrics.n"]?.count, 1)
    }

    func testAnInterruptedRunShowsKilled() throws {
        let harness = try BinaryHarness()
        try harness.write(
            "pipeline.yaml", "stages:\n  slow:\n    cmd: touch started && sleep 5 && echo > o\n    outs: [o]\n")
        let (process, _, _) = try harness.start(["repro"], environment: quiet)
        try harness.waitForFile("started")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let experiment = experimentName()
        let exported = try export(harness, [], experiment: experiment)
        XCTAssertEqual(exported.status, 0, exported.stderr)
        let id = try RunStore.open(workspace: harness.root).resolve("@last")
        let remote = try XCTUnwrap(try serverRuns(experiment: experiment)[id.rawValue])
        XCTAssertEqual(remote.status, "KILLED")
        XCTAssertNotNil(remote.end_time)
    }

    func testAServerThatIsDownDuringAnAutomaticExportWarnsAndTheNextExportSendsTheRun() throws {
        let experiment = experimentName()
        let harness = try makeWorkspace()
        let down = try repro(harness, environment: ["MLFLOW_TRACKING_URI": "http://127.0.0.1:9"])
        let warnings = down.stderr.split(separator: "\n").filter { $0.hasPrefix("warning: MLflow export failed") }
        XCTAssertEqual(warnings.count, 1, down.stderr)
        XCTAssertTrue(down.stderr.contains("http://127.0.0.1:9"), down.stderr)
        let missed = try RunStore.open(workspace: harness.root).resolve("@last")

        // The next repro exports through pipeline.yaml's tracking section, and sends the missed run too.
        let yaml = try harness.read("pipeline.yaml")
        try harness.write(
            "pipeline.yaml",
            yaml + "\ntracking:\n  mlflow:\n    uri: \(try liveServer().uri)\n    experiment: \(experiment)\n")
        let up = try repro(harness, ["-S", "score.lr=0.5"])
        XCTAssertFalse(up.stderr.contains("warning"), up.stderr)
        XCTAssertTrue(up.stderr.contains("exported 2 runs to MLflow"), up.stderr)
        let latest = try RunStore.open(workspace: harness.root).resolve("@last")
        let remote = try serverRuns(experiment: experiment)
        XCTAssertEqual(Set(remote.keys), [missed.rawValue, latest.rawValue])
        XCTAssertEqual(remote[latest.rawValue]?.params["score.lr"], "0.5")

        let quietRepro = try repro(harness)
        XCTAssertFalse(quietRepro.stderr.contains("exported 2"), "only the new run goes: \(quietRepro.stderr)")
        XCTAssertEqual(try serverRuns(experiment: experiment).count, 3)
    }

    func testBatchesAboveTheAPILimitsAreSplitAndAllAccepted() throws {
        let harness = try makeWorkspace()
        try repro(harness)
        let store = try RunStore.open(workspace: harness.root)
        let id = try store.resolve("@last")
        try store.recordParams((0..<150).map { RunParam(key: "grid.p\($0)", value: "\($0)") }, run: id)
        try logHistory(harness, run: id, steps: 0..<2500)
        let experiment = experimentName()
        let exported = try export(harness, [], experiment: experiment)
        XCTAssertEqual(exported.status, 0, exported.stderr)
        let remote = try XCTUnwrap(try serverRuns(experiment: experiment)[id.rawValue])
        XCTAssertEqual(remote.params.count, 152)
        XCTAssertEqual(remote.history["train.loss"]?.count, 2500)
        XCTAssertEqual(remote.history["train.loss"]?.map { Int($0[0]) }, Array(0..<2500))
    }

    func testManyRunsAreFoundOnTheServerWithOneSearch() throws {
        let harness = try makeWorkspace()
        let store = try RunStore.open(workspace: harness.root)
        let git = GitFacts(commit: "", branch: nil, isDetached: false, isDirty: false)
        let start = Date(timeIntervalSince1970: 1_764_000_000)
        for index in 0..<12 {
            let id = try store.beginRun(
                kind: .repro, argv: ["pipe", "repro"], git: git, pipeVersion: "t",
                startedAt: start.addingTimeInterval(Double(index)))
            try store.recordParams([RunParam(key: "grid.i", value: "\(index)")], run: id)
            try store.finishRun(id, status: .succeeded, endedAt: start.addingTimeInterval(Double(index) + 0.5))
        }
        let experiment = experimentName()
        let first = try export(harness, [], experiment: experiment)
        XCTAssertTrue(first.stdout.contains("12 exported, 0 updated, 0 skipped; 38 HTTP requests"), first.stdout)
        let second = try export(harness, [], experiment: experiment)
        XCTAssertTrue(
            second.stdout.contains("0 exported, 0 updated, 12 skipped; 2 HTTP requests"),
            "get-by-name and one search: \(second.stdout)")
        XCTAssertEqual(try serverRuns(experiment: experiment).count, 12)
    }

    // MARK: Import

    func testImportReproducesAnExperimentLoggedByTheMLflowClient() throws {
        let experiment = experimentName()
        struct Logged: Decodable {
            var run_id: String
            var params: [String: String]
            var history: [String: [[Double]]]
            var start_time: Int64
            var status: String
        }
        let logged = try liveServer().query(
            [Logged].self,
            """
            from mlflow.entities import Metric, Param, RunTag
            e = client.create_experiment(os.environ["EXPERIMENT"])
            out = []
            for i, status in enumerate(["FINISHED", "FAILED"]):
                r = client.create_run(e, start_time=1764000000000 + i * 1000, run_name=f"peer-{i}",
                                      tags={"mlflow.source.git.commit": "c0ffee%02d" % i,
                                            "mlflow.source.git.branch": "main", "mlflow.user": "peer"})
                metrics = [Metric("loss", 1.0 / (s + 1) + i, 1764000000500 + s, s) for s in range(5)]
                metrics += [Metric("acc", 0.5 + 0.1 * i, 1764000001000, 0)]
                client.log_batch(r.info.run_id, metrics=metrics,
                                 params=[Param("train.lr", str(0.001 * (i + 1))), Param("model", "cnn")])
                client.set_terminated(r.info.run_id, status, end_time=1764000009000 + i)
                out.append({"run_id": r.info.run_id, "params": {"train.lr": str(0.001 * (i + 1)), "model": "cnn"},
                            "history": {m.key: [] for m in metrics}, "start_time": 1764000000000 + i * 1000,
                            "status": status})
                for key in out[-1]["history"]:
                    out[-1]["history"][key] = [[m.step, m.value, m.timestamp] for m in metrics if m.key == key]
            print(json.dumps(out))
            """, environment: ["EXPERIMENT": experiment])

        let harness = try BinaryHarness()
        let imported = try harness.run(
            ["runs", "import", "mlflow", "--uri", try liveServer().uri, "--experiment", experiment],
            environment: quiet)
        XCTAssertEqual(imported.status, 0, imported.stderr)
        XCTAssertTrue(imported.stdout.contains("2 imported, 0 skipped"), imported.stdout)
        let again = try harness.run(
            ["runs", "import", "mlflow", "--uri", try liveServer().uri, "--experiment", experiment],
            environment: quiet)
        XCTAssertTrue(again.stdout.contains("0 imported, 2 skipped"), again.stdout)

        let store = try RunStore.open(workspace: harness.root)
        let runs = try store.list(RunQuery()).runs
        XCTAssertEqual(runs.count, 2)
        for (index, peer) in logged.enumerated() {
            let run = try XCTUnwrap(runs.first { $0.run.gitCommit == String(format: "c0ffee%02d", index) })
            let detail = try store.show(run.run.id)
            XCTAssertEqual(run.params, peer.params)
            XCTAssertEqual(run.run.status, peer.status == "FINISHED" ? .succeeded : .failed)
            XCTAssertEqual(run.run.gitBranch, "main")
            XCTAssertEqual(run.run.user, "peer")
            XCTAssertEqual(Int64((run.run.startedAt.timeIntervalSince1970 * 1000).rounded()), peer.start_time)
            for (key, points) in peer.history {
                let history = try XCTUnwrap(detail.metrics.first { $0.key == key }, key)
                XCTAssertEqual(history.steps.map(\.step), points.map { Int64($0[0]) }, key)
                XCTAssertEqual(history.steps.map(\.value), points.map { $0[1] }, key)
            }
        }
        let diff = try harness.run(["runs", "diff", "@last", "@last~1"])
        XCTAssertEqual(diff.status, 0, diff.stderr)
        XCTAssertTrue(diff.stdout.contains("train.lr"), diff.stdout)
    }

    func testExportThenImportGivesTheSameParamsAndMetrics() throws {
        let source = try makeWorkspace()
        try repro(source, ["-S", "score.lr=0.02"])
        let sourceStore = try RunStore.open(workspace: source.root)
        let id = try sourceStore.resolve("@last")
        try logHistory(source, run: id, steps: 0..<4)
        let experiment = experimentName()
        XCTAssertEqual(try export(source, [], experiment: experiment).status, 0)

        let destination = try BinaryHarness()
        let imported = try destination.run(
            ["runs", "import", "mlflow", "--uri", try liveServer().uri, "--experiment", experiment],
            environment: quiet)
        XCTAssertEqual(imported.status, 0, imported.stderr)
        let original = try sourceStore.show(id)
        let copy = try RunStore.open(workspace: destination.root).show(id)
        XCTAssertEqual(
            copy.params.map { [$0.key, $0.value, "\($0.overridden)"] },
            original.params.map {
                [$0.key, $0.value, "\($0.overridden)"]
            })
        XCTAssertEqual(copy.metrics.map(\.key), original.metrics.map(\.key))
        XCTAssertEqual(copy.metrics.map { $0.steps.map(\.step) }, original.metrics.map { $0.steps.map(\.step) })
        XCTAssertEqual(copy.metrics.map { $0.steps.map(\.value) }, original.metrics.map { $0.steps.map(\.value) })
        XCTAssertEqual(copy.summary.run.gitCommit, original.summary.run.gitCommit)
        XCTAssertEqual(copy.summary.run.status, original.summary.run.status)
        XCTAssertEqual(copy.stages.map(\.stage), original.stages.map(\.stage))
    }
}
