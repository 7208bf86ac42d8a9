import Foundation
import XCTest

/// The binary end to end: help text, exit codes, workspace locking.
final class CommandLineTests: XCTestCase {
    func testRootHelpIsPinned() throws {
        let harness = try BinaryHarness()
        let output = try harness.run(["--help"])
        XCTAssertEqual(output.status, 0)
        XCTAssertEqual(
            output.stdout,
            """
            OVERVIEW: Reproducible ECG arrhythmia pipelines: stage graph, content cache,
            run tracking.

            USAGE: pipe <subcommand>

            OPTIONS:
              --version               Show the version.
              -h, --help              Show help information.

            SUBCOMMANDS:
              repro                   Bring stages up to date: run, restore from cache or
                                      skip each, saying why.
              status                  Say which stages are stale and why, without running
                                      anything.
              verify                  Rebuild every stage from scratch and prove the
                                      outputs match pipeline.lock.
              runs                    List, show, compare and prune tracked runs; export
                                      them to MLflow and import them back.
              wfdb                    Inspect WFDB records (.hea/.dat) and annotation files.
              qrs                     Detect QRS complexes (R peaks) and evaluate them
                                      against reference annotations.
              infer                   Classify every beat of WFDB records (N, S, V, F, Q)
                                      and say whether an arrhythmia is present.
              dag                     Draw the stage graph: ASCII by default, or Graphviz
                                      dot, or Mermaid.
              init                    Write a starter pipeline.yaml and stages/ into an
                                      empty directory.
              remote                  List, add or remove the remotes that push and pull
                                      use (the remotes: section of pipeline.yaml).
              push                    Upload the cache objects of the locked outputs that
                                      the remote lacks.
              fetch                   Download the cache objects of the locked outputs into
                                      .cache/ (verified).
              pull                    Fetch, then put every locked output in place in the
                                      workspace.
              gc                      Remove cache objects that pipeline.lock (or any
                                      commit's) does not reference.
              exp                     Run, compare, apply and remove experiments: sweeps of
                                      params in isolated workspaces.
              report                  Write one self-contained HTML page comparing runs:
                                      table, learning curves, evaluation, diff, stages.
              doctor                  Check a workspace: the lock against the files, the
                                      run store, stray temporaries, .cache/children.

              See 'pipe help <subcommand>' for detailed help.

            """)
    }

    func testInitThenReproThenStatusFromASubdirectory() throws {
        let harness = try BinaryHarness()
        XCTAssertEqual(try harness.run(["init"]).status, 0)
        XCTAssertEqual(try harness.run(["init"]).status, 2, "refuses to overwrite")
        let first = try harness.run(["repro"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("'hello' ran in"), first.stdout)
        XCTAssertEqual(try harness.read("out/hello.txt"), "greeting: hello from pipe\n")
        let sub = harness.root.appendingPathComponent("out")
        let status = try harness.run(["status", "--check"], in: sub)
        XCTAssertEqual(status.status, 0, status.stdout + status.stderr)
        XCTAssertEqual(status.stdout, "Pipeline is up to date (1 stage).\n")
        try harness.write("stages/hello.yaml", "greeting: bonjour\n")
        let stale = try harness.run(["status", "--check"])
        XCTAssertEqual(stale.status, 1)
        XCTAssertEqual(stale.stdout, "hello: changed param greeting\n1 of 1 stages stale.\n")
        let json = try harness.run(["status", "--json"])
        XCTAssertTrue(json.stdout.contains("\"reason\" : \"changed_param\""), json.stdout)
    }

    func testBadInputExitsTwoNamingFileAndLine() throws {
        let cases = [
            ("stages:\n  a:\n    cmd: echo\n    outz: [x]\n", "pipeline.yaml:4:5: unknown key 'outz'"),
            (
                "stages:\n  a:\n    cmd: echo\n    deps: [e]\n    outs: [t]\n  b:\n    cmd: echo\n    deps: [t]\n    outs: [e]\n",
                "the stages form a cycle: a → b → a"
            ),
            ("stages:\n  a:\n    cmd: echo\n    deps: [missing.txt]\n", "pipeline.yaml:4:12: dependency 'missing.txt'"),
            ("stages:\n  a: [\n", "pipeline.yaml:3:1: malformed YAML"),
        ]
        for (yaml, message) in cases {
            let harness = try BinaryHarness()
            try harness.write("pipeline.yaml", yaml)
            for command in [["repro"], ["status"], ["dag"]] {
                let output = try harness.run(command)
                XCTAssertEqual(output.status, 2, "\(command) \(yaml)")
                XCTAssertTrue(output.stderr.contains(message), "\(command): \(output.stderr)")
            }
        }
        let harness = try BinaryHarness()
        XCTAssertEqual(try harness.run(["status"]).status, 2, "no pipeline.yaml")
        XCTAssertEqual(try harness.run(["repro", "--jobs", "0"]).status, 2)
        XCTAssertEqual(try harness.run(["frobnicate"]).status, 2)
        try harness.write("pipeline.yaml", "stages:\n  a:\n    cmd: echo > o\n    outs: [o]\n")
        XCTAssertEqual(try harness.run(["repro", "nosuchstage"]).status, 2)
        XCTAssertEqual(try harness.run(["repro", "-S", "nonsense"]).status, 2)
    }

    func testAFailingStageExitsOne() throws {
        let harness = try BinaryHarness()
        try harness.write("pipeline.yaml", "stages:\n  bad:\n    cmd: echo about to fail && exit 4\n    outs: [o]\n")
        let output = try harness.run(["repro"])
        XCTAssertEqual(output.status, 1)
        XCTAssertTrue(output.stdout.contains("[bad] about to fail"), output.stdout)
        let failure = try XCTUnwrap(
            output.stderr.split(separator: "\n").first {
                $0.hasPrefix("'bad' failed: command failed with exit status 4")
            },
            output.stderr)
        let log = try XCTUnwrap(failure.range(of: "(log: ").map { failure[$0.upperBound...].dropLast() })
        XCTAssertTrue(log.hasPrefix("runs/") && log.hasSuffix("/logs/bad.log"), String(log))
        XCTAssertEqual(try harness.read(String(log)), "about to fail\n")
    }

    func testASecondReproIsRefusedWhileTheFirstHoldsTheWorkspace() throws {
        let harness = try BinaryHarness()
        try harness.write(
            "pipeline.yaml", "stages:\n  slow:\n    cmd: touch started && sleep 3 && echo done > o\n    outs: [o]\n")
        let (first, _, _) = try harness.start(["repro"])
        try harness.waitForFile("started")
        let second = try harness.run(["repro"])
        XCTAssertEqual(second.status, 1)
        XCTAssertTrue(second.stderr.contains("pid \(first.processIdentifier): pipe repro"), second.stderr)
        let status = try harness.run(["status"])
        XCTAssertEqual(status.status, 0, "status takes no write lock")
        let waited = try harness.run(["repro", "--wait"])
        XCTAssertEqual(waited.status, 0, waited.stderr)
        first.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0)
        XCTAssertTrue(waited.stdout.contains("'slow' skipped: up to date"), waited.stdout)
    }

    func testAnInterruptStopsTheRunningCommandAndCommitsNothing() throws {
        let harness = try BinaryHarness()
        try harness.write(
            "pipeline.yaml",
            "stages:\n  slow:\n    cmd: touch started && sleep 1 && touch late && echo > o\n    outs: [o]\n")
        let (process, _, _) = try harness.start(["repro"])
        try harness.waitForFile("started")
        process.terminate()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 128 + SIGTERM)
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertFalse(FileManager.default.fileExists(atPath: harness.root.appendingPathComponent("late").path))
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: harness.root.appendingPathComponent("pipeline.lock").path))
    }

    func testVerifyPassesOnADeterministicPipelineAndNamesTheOutputThatIsNot() throws {
        let harness = try BinaryHarness()
        try harness.write("in.txt", "data\n")
        try harness.write(
            "pipeline.yaml",
            """
            stages:
              stable:
                cmd: sort in.txt > sorted.txt
                deps: [in.txt]
                outs: [sorted.txt]
              stamped:
                cmd: mkdir -p report && cp sorted.txt report/data.txt && date +%s%N > report/stamp.txt
                deps: [sorted.txt]
                outs: [report]
            """)
        XCTAssertEqual(try harness.run(["repro"]).status, 0)
        let passing = try harness.run(["verify", "stable"])
        XCTAssertEqual(passing.status, 0, passing.stdout + passing.stderr)
        XCTAssertTrue(passing.stdout.hasSuffix("Verified: every output matches pipeline.lock.\n"), passing.stdout)

        let lockBefore = try harness.read("pipeline.lock")
        let stampBefore = try harness.read("report/stamp.txt")
        let failing = try harness.run(["verify"])
        XCTAssertEqual(failing.status, 1)
        XCTAssertTrue(
            failing.stderr.contains("'stamped' failed: output report differs from pipeline.lock"), failing.stderr)
        XCTAssertTrue(failing.stderr.contains("(files: stamp.txt)"), failing.stderr)
        XCTAssertEqual(try harness.read("pipeline.lock"), lockBefore, "verify never rewrites the lock")
        XCTAssertEqual(try harness.read("report/stamp.txt"), stampBefore, "the locked output is put back")
        XCTAssertEqual(try harness.run(["status", "--check"]).status, 0)

        try harness.write("in.txt", "changed\n")
        let stale = try harness.run(["verify"])
        XCTAssertEqual(stale.status, 1)
        XCTAssertTrue(stale.stderr.contains("pipeline.lock does not match the workspace"), stale.stderr)
        XCTAssertTrue(stale.stderr.contains("stable: changed dep in.txt"), stale.stderr)
    }

    func testAVerifyWhoseStageFailsPutsTheLockedOutputsBack() throws {
        let harness = try BinaryHarness()
        try harness.write("in.txt", "data\n")
        // The command reads a source outside the workspace, as ecg.fetch reads PIPE_MITDB_SOURCE: gone at verify.
        let source = harness.root.deletingLastPathComponent().appendingPathComponent("source-\(UUID().uuidString)")
        try Data("external\n".utf8).write(to: source)
        defer { try? FileManager.default.removeItem(at: source) }
        try harness.write(
            "pipeline.yaml",
            """
            stages:
              fetch:
                cmd: mkdir -p data && cp \(source.path) data/source.txt
                outs: [data]
            """)
        XCTAssertEqual(try harness.run(["repro"]).status, 0)
        try FileManager.default.removeItem(at: source)
        let failing = try harness.run(["verify"])
        XCTAssertEqual(failing.status, 1, failing.stdout)
        XCTAssertEqual(try harness.read("data/source.txt"), "external\n", "a failed verify lost the output")
        XCTAssertEqual(try harness.run(["status", "--check"]).status, 0)
    }
}
