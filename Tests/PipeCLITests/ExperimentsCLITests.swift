import Foundation
import Tracking
import XCTest

/// A pipeline in a fresh git repository, committed, for `pipe exp` tests. By default a small `cmd:` pipeline:
/// `prepare` (the shared upstream stage, which counts its runs in a file outside the workspace) and `train`
/// (reads its params file, writes a model and metrics). `PIPE_TEST_MARKS` makes `train` leave a mark when it
/// starts and, while `block-SEED` exists there, hang.
final class ExperimentFixture {
    let harness: BinaryHarness
    let counter: URL
    /// Main-workspace files no experiment may touch (with pipeline.lock, git status and the worktrees).
    let watchedFiles: [String]
    /// Passed to every pipe the fixture runs, besides `PIPE_TEST_COUNTER`.
    let extraEnvironment: [String: String]

    /// The `cmd:` pipeline.
    convenience init() throws {
        try self.init(watching: ["data/base.txt", "out/model.txt", "stages/train.yaml", "stages/prepare.yaml"]) {
            try Self.writeCommandPipeline($0)
        }
    }

    /// The pipeline `write` puts in the workspace, committed.
    init(
        watching watchedFiles: [String], environment: [String: String] = [:], write: (BinaryHarness) throws -> Void
    ) throws {
        harness = try BinaryHarness()
        counter = harness.root.deletingLastPathComponent().appendingPathComponent("prepare-\(UUID().uuidString).count")
        self.watchedFiles = watchedFiles
        extraEnvironment = environment
        try write(harness)
        try git(["init", "-q"])
        try git(["add", "-A"])
        try git(["commit", "-qm", "pipeline"])
    }

    private static func writeCommandPipeline(_ harness: BinaryHarness) throws {
        try harness.write(".gitignore", ".cache/\nruns/\ndata/\nout/\n")
        try harness.write("stages/prepare.yaml", "n: 3\n")
        try harness.write("stages/train.yaml", "# training\nlr: 0.001   # Adam\nseed: 1\n")
        try harness.write(
            "prepare.sh",
            """
            echo run >> "$PIPE_TEST_COUNTER"
            sleep 1
            mkdir -p data
            echo "n=$(sed -n 's/^n: *//p' stages/prepare.yaml)" > data/base.txt

            """)
        try harness.write(
            "train.sh",
            """
            lr=$(sed -n 's/^lr: *\\([^ ]*\\).*/\\1/p' stages/train.yaml)
            seed=$(sed -n 's/^seed: *//p' stages/train.yaml)
            if [ -n "$PIPE_TEST_MARKS" ]; then
              touch "$PIPE_TEST_MARKS/started-$seed"
              if [ -f "$PIPE_TEST_MARKS/block-$seed" ]; then echo $$ > "$PIPE_TEST_MARKS/pid-$seed"; exec sleep 300; fi
            fi
            mkdir -p out
            echo "$lr $seed $(cat data/base.txt)" > out/model.txt
            echo "{\\"lr\\": $lr, \\"seed\\": $seed}" > out/metrics.json

            """)
        try harness.write(
            "pipeline.yaml",
            """
            stages:
              prepare:
                cmd: sh prepare.sh
                deps: [prepare.sh]
                params: [n]
                outs: [data/base.txt]
              train:
                cmd: sh train.sh
                deps: [train.sh, data/base.txt]
                params: [lr, seed]
                outs: [out/model.txt]
                metrics: [out/metrics.json]
            """)
    }

    deinit { try? FileManager.default.removeItem(at: counter) }

    @discardableResult
    func git(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = ["-c", "user.name=t", "-c", "user.email=t@example.com"] + arguments
        process.currentDirectoryURL = harness.root
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    var environment: [String: String] { extraEnvironment.merging(["PIPE_TEST_COUNTER": counter.path]) { $1 } }

    func prepareCount() -> Int {
        ((try? String(contentsOf: counter, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    func exp(_ arguments: [String], extra: [String: String] = [:]) throws -> BinaryHarness.Output {
        try harness.run(["exp"] + arguments, environment: environment.merging(extra) { $1 })
    }

    /// A snapshot of what an experiment must not touch in the main workspace.
    func mainState() throws -> [String: String] {
        var state = ["git status": try git(["status", "--porcelain", "--untracked-files=all"])]
        for path in ["pipeline.lock"] + watchedFiles {
            state[path] = (try? harness.read(path)) ?? "<absent>"
        }
        state["worktrees"] = try git(["worktree", "list"])
        return state
    }

}

/// `pipe exp run/show/apply/remove` end to end through the built binary, on `ExperimentFixture`'s pipeline.
final class ExperimentsCLITests: XCTestCase {
    var fixture: ExperimentFixture!
    var harness: BinaryHarness { fixture.harness }

    override func setUpWithError() throws { fixture = try ExperimentFixture() }
    override func tearDown() { fixture = nil }

    func git(_ arguments: [String]) throws -> String { try fixture.git(arguments) }
    var environment: [String: String] { fixture.environment }
    func prepareCount() -> Int { fixture.prepareCount() }
    func mainState() throws -> [String: String] { try fixture.mainState() }
    func exp(_ arguments: [String], extra: [String: String] = [:]) throws -> BinaryHarness.Output {
        try fixture.exp(arguments, extra: extra)
    }

    // MARK: Sweeps

    func testA2x3GridGivesSixRunsWithTheirParamsAndTheSharedStageRunsOnce() throws {
        let before = try mainState()
        let result = try exp([
            "run", "-S", "train.lr=0.001,0.01", "-S", "train.seed=range(1,4)", "-j", "2", "--name", "grid",
        ])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertTrue(
            result.stdout.contains("sweep 'grid': 6 experiments (2 × 3 grid) over train.lr, train.seed"), result.stdout)
        XCTAssertEqual(prepareCount(), 1, "the shared upstream stage ran once for the six experiments")

        let store = try RunStore.open(workspace: harness.root)
        let runs = try store.sweepRuns(name: "grid")
        XCTAssertEqual(runs.count, 6)
        XCTAssertEqual(Set(runs.map(\.tag.experiment)), Set(1...6))
        XCTAssertTrue(runs.allSatisfy { $0.status == .succeeded }, "\(runs)")
        XCTAssertEqual(Set(runs.map(\.tag.sweepID)).count, 1)
        var combinations = Set<String>()
        var prepareRan = 0
        for run in runs {
            let detail = try store.show(run.run)
            let lr = try XCTUnwrap(detail.params.first { $0.key == "train.lr" })
            let seed = try XCTUnwrap(detail.params.first { $0.key == "train.seed" })
            XCTAssertTrue(lr.overridden && seed.overridden)
            XCTAssertEqual(detail.params.first { $0.key == "prepare.n" }?.overridden, false)
            combinations.insert("\(lr.value) \(seed.value)")
            // The cmd stage read the experiment's own params file: its metrics carry the swept values.
            XCTAssertEqual(detail.metrics.first { $0.key == "metrics.lr" }?.last, Double(lr.value), "\(detail.metrics)")
            XCTAssertEqual(detail.metrics.first { $0.key == "metrics.seed" }?.last, Double(seed.value))
            XCTAssertFalse(detail.summary.run.gitCommit.isEmpty)
            prepareRan += detail.stages.filter { $0.stage == "prepare" && $0.outcome == .ran }.count
        }
        XCTAssertEqual(combinations, ["0.001 1", "0.001 2", "0.001 3", "0.01 1", "0.01 2", "0.01 3"])
        XCTAssertEqual(prepareRan, 1, "one run ran prepare; the five others restored it from the shared run-cache")
        XCTAssertEqual(
            try mainState(), before, "the main workspace's lock, outputs, params and git status are untouched")

        let listed = try harness.run(["runs", "list", "--where", "sweep = grid", "--json"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        for run in runs { XCTAssertTrue(listed.stdout.contains(run.run.rawValue)) }
        let others = try harness.run(["runs", "list", "--where", "sweep = other", "--json"])
        XCTAssertEqual(others.stdout.filter { !$0.isWhitespace }, "[]")

        let shown = try exp(["show", "grid", "--sort", "metrics.metrics.lr:desc"])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        let header = shown.stdout.split(separator: "\n").first.map(String.init) ?? ""
        XCTAssertTrue(header.hasPrefix("exp  id"), header)
        let columns = header.split(separator: " ").map(String.init)
        XCTAssertEqual(
            Array(columns.prefix(5)), ["exp", "id", "status", "train.lr", "train.seed"], "swept first: \(header)")
        let firstRow = shown.stdout.split(separator: "\n").dropFirst().first.map(String.init) ?? ""
        XCTAssertTrue(firstRow.contains("0.01"), "sorted by metrics.lr descending: \(shown.stdout)")

        let diff = try harness.run(["runs", "diff", runs[0].run.rawValue, runs[5].run.rawValue])
        XCTAssertEqual(diff.status, 0, diff.stderr)
        XCTAssertTrue(diff.stdout.contains("train.lr"), diff.stdout)
    }

    func testTwoSweepsWritingTheRunStoreAtOnceLoseNothing() throws {
        let sweeps = [("seeds", "train.seed=range(1,7)"), ("rates", "train.lr=0.1,0.2,0.3,0.4,0.5,0.6")]
        let started = try sweeps.map { name, axis in
            try harness.start(["exp", "run", "-S", axis, "-j", "2", "--name", name], environment: environment)
        }
        var outputs: [String] = []
        for (process, out, err) in started {
            let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, stdout + stderr)
            outputs.append(stdout + stderr)
        }
        XCTAssertEqual(prepareCount(), 1, "the two sweeps shared prepare through the signature locks and run-cache")
        let store = try RunStore.open(workspace: harness.root)
        for (name, axis) in sweeps {
            let key = String(axis.prefix { $0 != "=" })
            let runs = try store.sweepRuns(name: name)
            XCTAssertEqual(runs.map(\.tag.experiment).sorted(), Array(1...6), name)
            XCTAssertTrue(runs.allSatisfy { $0.status == .succeeded }, "\(runs)")
            var swept = Set<String>()
            for run in runs {
                let detail = try store.show(run.run)
                let param = try XCTUnwrap(detail.params.first { $0.key == key }, "\(name): \(detail.params)")
                XCTAssertTrue(param.overridden)
                swept.insert(param.value)
                let metric = detail.metrics.first { $0.key == "metrics.\(key.dropFirst("train.".count))" }
                XCTAssertEqual(metric?.last, Double(param.value), "\(name) \(run.tag.experiment): \(detail.metrics)")
                XCTAssertEqual(detail.stages.map(\.stage).sorted(), ["prepare", "train"], "every stage outcome kept")
                XCTAssertEqual(
                    detail.artifacts.map(\.path).sorted(), ["data/base.txt", "out/metrics.json", "out/model.txt"])
                let log = try harness.read(".cache/exp/\(name)/\(run.tag.experiment).log")
                XCTAssertFalse(log.contains("run tracking:"), "no write to the store was dropped: \(log)")
            }
            XCTAssertEqual(swept.count, 6, "\(name): \(swept)")
        }
        for output in outputs { XCTAssertFalse(output.contains("database is locked"), output) }
    }

    func testUncommittedChangesOfTrackedFilesReachTheExperiments() throws {
        try harness.write("stages/prepare.yaml", "n: 7\n")
        let before = try mainState()
        let result = try exp(["run", "-S", "train.seed=5", "--name", "dirty"])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        let store = try RunStore.open(workspace: harness.root)
        let run = try XCTUnwrap(try store.sweepRuns(name: "dirty").first)
        let detail = try store.show(run.run)
        XCTAssertEqual(detail.params.first { $0.key == "prepare.n" }?.value, "7")
        XCTAssertTrue(detail.summary.run.gitDirty)
        XCTAssertEqual(try mainState(), before)
    }

    func testApplyBringsParamsAndOutputsInAndStatusIsUpToDate() throws {
        let result = try exp(["run", "-S", "train.lr=0.001,0.05", "--name", "lr"])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        let store = try RunStore.open(workspace: harness.root)
        let chosen = try XCTUnwrap(try store.sweepRuns(name: "lr").first { $0.tag.experiment == 2 })
        let ranBefore = prepareCount()

        let applied = try exp(["apply", chosen.run.rawValue])
        XCTAssertEqual(applied.status, 0, applied.stdout + applied.stderr)
        XCTAssertEqual(
            try harness.read("stages/train.yaml"), "# training\nlr: 0.05   # Adam\nseed: 1\n", "only the value")
        XCTAssertEqual(try harness.read("out/model.txt"), "0.05 1 n=3\n")
        XCTAssertEqual(prepareCount(), ranBefore, "outputs came from the cache: nothing ran")
        XCTAssertTrue(applied.stdout.contains("restored from cache"), applied.stdout)
        let status = try harness.run(["status", "--check"])
        XCTAssertEqual(status.status, 0, status.stdout + status.stderr)

        let removed = try exp(["remove", "lr"])
        XCTAssertEqual(removed.status, 0, removed.stderr)
        XCTAssertTrue(removed.stdout.contains("removed sweep 'lr': 2 workspaces"), removed.stdout)
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: harness.root.appendingPathComponent(".cache/exp/lr").path))
        XCTAssertEqual(try store.sweepRuns(name: "lr").count, 2, "the runs stay in the store")
        XCTAssertEqual(try harness.run(["status", "--check"]).status, 0, "the shared objects are still there")
    }

    func testDryPrintsThePlanAndQueueRecordsItForResume() throws {
        let dry = try exp(["run", "-S", "train.seed=range(1,4)", "--dry", "--name", "d"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertTrue(dry.stdout.contains("sweep 'd': 3 experiments over train.seed"), dry.stdout)
        XCTAssertTrue(dry.stdout.contains("  3  train.seed=3"), dry.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: harness.root.appendingPathComponent(".cache/exp/d").path))

        let queued = try exp(["run", "-S", "train.seed=range(1,3)", "--queue", "--name", "q"])
        XCTAssertEqual(queued.status, 0, queued.stderr)
        XCTAssertTrue(queued.stdout.contains("pipe exp run --resume q"), queued.stdout)
        XCTAssertEqual(try RunStore.open(workspace: harness.root).sweepRuns(name: "q").count, 0, "nothing ran")
        let resumed = try exp(["run", "--resume", "q"])
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        XCTAssertEqual(try RunStore.open(workspace: harness.root).sweepRuns(name: "q").count, 2)
        let again = try exp(["run", "--resume", "q"])
        XCTAssertTrue(again.stdout.contains("2 of 2 experiments already done; running 0"), again.stdout)
    }

    func testBadInputIsOneLineExitTwoAndNothingStarted() throws {
        let cases: [([String], String)] = [
            (["-S", "train.lrr=1,2"], "did you mean 'train.lr'?"),
            (["-S", "train.lr=1,,2"], "an empty value in the list"),
            (["-S", "train.seed=range(1,x)"], "range needs numbers"),
            (["-S", "train.seed=range(100)", "-S", "train.lr=range(101)"], "more than 10000: pass --yes"),
            (["-S", "train.seed=1", "nosuchstage"], "nosuchstage"),
            (["-S", "train.seed=1", "--name", "a/b"], "sweep name 'a/b'"),
        ]
        for (arguments, expected) in cases {
            let result = try exp(["run"] + arguments)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.stdout) \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
            XCTAssertEqual(
                result.stderr.split(separator: "\n").count, 1, "one line: \(result.stderr)")
        }
        XCTAssertEqual(prepareCount(), 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: harness.root.appendingPathComponent(".cache/exp").path))
        let slurm = try exp(
            ["run", "-S", "train.seed=1", "--executor", "slurm", "--name", "s"], extra: ["PATH": "/usr/bin/nonexistent"]
        )
        XCTAssertEqual(slurm.status, 2, slurm.stderr)
        XCTAssertTrue(slurm.stderr.contains("sbatch: not found on PATH"), slurm.stderr)
    }

    func testKillNineMidSweepThenResumeRunsOnlyTheUnfinished() throws {
        let marks = harness.root.deletingLastPathComponent().appendingPathComponent("marks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: marks, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: marks) }
        _ = FileManager.default.createFile(atPath: marks.appendingPathComponent("block-3").path, contents: nil)
        let extra = environment.merging(["PIPE_TEST_MARKS": marks.path]) { $1 }
        let (process, _, _) = try harness.start(
            ["exp", "run", "-S", "train.seed=range(1,5)", "-j", "1", "--name", "k"], environment: extra)
        let pidFile = marks.appendingPathComponent("pid-3")
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: pidFile.path) && Date() < deadline { usleep(50_000) }
        usleep(100_000)
        let store = try RunStore.open(workspace: harness.root)
        let jobPID = try store.sweepRuns(name: "k").filter { $0.status == .running }.map {
            try store.show($0.run).summary.run.pid
        }
        kill(process.processIdentifier, SIGKILL)
        for pid in jobPID { kill(pid, SIGKILL) }
        if let text = try? String(contentsOf: pidFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            kill(pid, SIGKILL)
        }
        process.waitUntilExit()
        XCTAssertEqual(jobPID.count, 1, "experiment 3 was running")
        try FileManager.default.removeItem(at: marks.appendingPathComponent("block-3"))
        for seed in 1...4 { try? FileManager.default.removeItem(at: marks.appendingPathComponent("started-\(seed)")) }

        let resumed = try harness.run(["exp", "run", "--resume", "k"], environment: extra)
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("2 of 4 experiments already done; running 2"), resumed.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marks.appendingPathComponent("started-1").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: marks.appendingPathComponent("started-2").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: marks.appendingPathComponent("started-3").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: marks.appendingPathComponent("started-4").path))
        let runs = try RunStore.open(workspace: harness.root).sweepRuns(name: "k")
        XCTAssertEqual(runs.filter { $0.status == .succeeded }.map(\.tag.experiment).sorted(), [1, 2, 3, 4])
        XCTAssertEqual(runs.filter { $0.status == .interrupted }.map(\.tag.experiment), [3])
    }
}
