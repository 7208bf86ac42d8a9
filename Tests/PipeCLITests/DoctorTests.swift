import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `pipe doctor [--deep] [--fix]` (issue 20, Build): one finding per problem, exit 1 while any is left.
final class DoctorTests: XCTestCase {
    private let pipeline =
        "stages:\n  a:\n    cmd: if [ -e slow ]; then touch started && sleep 30; fi; echo > o\n    outs: [o]\n"

    /// A workspace after one successful repro.
    private func workspace() throws -> BinaryHarness {
        let harness = try BinaryHarness()
        try harness.write("pipeline.yaml", pipeline)
        XCTAssertEqual(try harness.run(["repro"]).status, 0)
        return harness
    }

    /// A `pipe repro --force` killed with -9 in the middle of its stage (its command killed too), with the output
    /// it had removed put back as the lock has it: what is left is the run store's and `.cache/children`'s.
    private func killRepro(in harness: BinaryHarness) throws {
        try harness.write("slow", "")
        let (repro, _, _) = try harness.start(["repro", "--force"])
        try harness.waitForFile("started")
        let children = try harness.read(".cache/children")
        kill(repro.processIdentifier, SIGKILL)
        if let group = children.split(separator: " ").first.flatMap({ pid_t($0) }) { kill(-group, SIGKILL) }
        repro.waitUntilExit()
        try FileManager.default.removeItem(at: harness.root.appendingPathComponent("slow"))
        try harness.write("o", "\n")
    }

    /// Sets a file's modification time `seconds` back.
    private func age(_ path: String, in harness: BinaryHarness, by seconds: Int) {
        let past = time(nil) - seconds
        var times = [timespec(tv_sec: past, tv_nsec: 0), timespec(tv_sec: past, tv_nsec: 0)]
        XCTAssertEqual(utimensat(AT_FDCWD, harness.root.appendingPathComponent(path).path, &times, 0), 0, path)
    }

    private func lines(_ output: BinaryHarness.Output, _ area: String) -> [String] {
        output.stdout.split(separator: "\n").map(String.init).filter { $0.hasPrefix(area + ": ") }
    }

    func testAHealthyWorkspaceExitsZero() throws {
        let harness = try workspace()
        let output = try harness.run(["doctor", "--deep"])
        XCTAssertEqual(output.status, 0, output.stdout + output.stderr)
        XCTAssertEqual(
            output.stdout,
            "No problems found (lock, run store, temporaries, .cache/children, every cache object).\n")
    }

    func testAStaleStageIsReportedAndLeftToRepro() throws {
        let harness = try workspace()
        try harness.write("o", "edited\n")
        for command in [["doctor"], ["doctor", "--fix"]] {
            let output = try harness.run(command)
            XCTAssertEqual(output.status, 1, "\(command)")
            XCTAssertEqual(
                lines(output, "lock"),
                [
                    "lock: stage 'a': modified output o, the files do not match pipeline.lock "
                        + "(`pipe repro` brings it up to date)"
                ], output.stdout)
        }
        XCTAssertEqual(try harness.read("o"), "edited\n", "--fix never touches outputs")
    }

    func testStrayTemporariesOlderThanAMinuteAreRemovedByFix() throws {
        let harness = try workspace()
        try harness.write(".cache/tmp/4242-1234", "partial object")
        try harness.write(".pipeline.lock.tmp-4242-99", "half a lock")
        try harness.write(".o.pipe-tmp-4242-7/inside", "staging")
        try harness.write(".o.tmp-4243-8", "young")
        try harness.write(".notes.tmp-kept", "a user's file")
        for path in [".cache/tmp/4242-1234", ".pipeline.lock.tmp-4242-99", ".o.pipe-tmp-4242-7", ".notes.tmp-kept"] {
            age(path, in: harness, by: 120)
        }
        let found = try harness.run(["doctor"])
        XCTAssertEqual(found.status, 1)
        XCTAssertEqual(
            lines(found, "temporaries"),
            [
                "temporaries: .cache/tmp/4242-1234: a temporary file left by a pipe that died (2 min old); "
                    + "--fix removes it",
                "temporaries: .o.pipe-tmp-4242-7: a temporary folder left by a pipe that died (2 min old); "
                    + "--fix removes it",
                "temporaries: .pipeline.lock.tmp-4242-99: a temporary file left by a pipe that died (2 min old); "
                    + "--fix removes it",
            ], found.stdout)
        XCTAssertTrue(found.stdout.hasSuffix("3 problems found.\n"), found.stdout)

        let fixed = try harness.run(["doctor", "--fix"])
        XCTAssertEqual(fixed.status, 0, fixed.stdout)
        XCTAssertTrue(fixed.stdout.hasSuffix("3 problems found, 3 fixed.\n"), fixed.stdout)
        let remaining = try FileManager.default.contentsOfDirectory(atPath: harness.root.path).filter {
            $0.hasPrefix(".") && $0 != ".cache"
        }
        XCTAssertEqual(remaining.sorted(), [".notes.tmp-kept", ".o.tmp-4243-8"], "young and foreign files stay")
        XCTAssertEqual(try harness.run(["doctor"]).status, 0)
    }

    func testCorruptCacheObjectsAreFoundWithDeepAndQuarantinedWithFix() throws {
        let harness = try workspace()
        let objects = harness.root.appendingPathComponent(".cache/objects")
        let object = try XCTUnwrap(FileManager.default.subpaths(atPath: objects.path)?.first { $0.count > 3 })
        let url = objects.appendingPathComponent(object)
        chmod(url.path, 0o644)
        try Data("tampered\n".utf8).write(to: url)
        XCTAssertEqual(try harness.run(["doctor"]).status, 0, "objects are only re-hashed with --deep")

        let deep = try harness.run(["doctor", "--deep"])
        XCTAssertEqual(deep.status, 1)
        XCTAssertEqual(lines(deep, "cache").count, 1, deep.stdout)
        XCTAssertTrue(deep.stdout.contains("cache: .cache/objects/\(object.prefix(2))/"), deep.stdout)
        XCTAssertTrue(deep.stdout.contains(": corrupt object \(object.prefix(2))"), deep.stdout)

        let fixed = try harness.run(["doctor", "--deep", "--fix"])
        XCTAssertEqual(fixed.status, 0, fixed.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
        let quarantined = try FileManager.default.contentsOfDirectory(
            atPath: harness.root.appendingPathComponent(".cache/quarantine").path)
        XCTAssertEqual(quarantined.count, 1)
    }

    func testAKilledReprosLeftoversAreFoundAndFixed() throws {
        let harness = try workspace()
        try killRepro(in: harness)
        let found = try harness.run(["doctor"])
        XCTAssertEqual(found.status, 1)
        XCTAssertEqual(
            lines(found, "children"),
            [
                "children: .cache/children: 1 entry left by a killed repro, none running; "
                    + "--fix stops what runs and removes the file"
            ], found.stdout)
        let store = harness.root.appendingPathComponent("runs/pipe.sqlite").path
        let runs = lines(found, "runs")
        XCTAssertEqual(runs.count, 2, found.stdout)
        XCTAssertTrue(runs.contains { $0.contains("committed write transactions are only in \(store)-wal") }, "\(runs)")
        XCTAssertTrue(
            runs.contains(
                "runs: \(store): 1 run whose process died is still marked running; "
                    + "--fix marks it interrupted"), "\(runs)")
        XCTAssertEqual(lines(found, "lock"), [], "the output was put back")

        let fixed = try harness.run(["doctor", "--fix"])
        XCTAssertEqual(fixed.status, 0, fixed.stdout)
        XCTAssertTrue(fixed.stdout.hasSuffix("3 problems found, 3 fixed.\n"), fixed.stdout)
        let children = harness.root.appendingPathComponent(".cache/children").path
        XCTAssertFalse(FileManager.default.fileExists(atPath: children))
        XCTAssertEqual(try harness.run(["doctor"]).stdout.hasPrefix("No problems found"), true)
        XCTAssertTrue(try harness.run(["runs", "list"]).stdout.contains("interrupted"))
    }

    func testAStoreThatLostItsWALIsReportedAndAcceptedByFix() throws {
        let harness = try workspace()
        try killRepro(in: harness)
        let store = harness.root.appendingPathComponent("runs/pipe.sqlite").path
        for suffix in ["-wal", "-shm"] { try FileManager.default.removeItem(atPath: store + suffix) }
        let found = try harness.run(["doctor"])
        XCTAssertEqual(found.status, 1)
        XCTAssertEqual(lines(found, "runs").count, 1, found.stdout)
        XCTAssertTrue(found.stdout.contains("runs: \(store): the run store lost writes"), found.stdout)
        XCTAssertTrue(found.stdout.contains("; --fix accepts it"), found.stdout)

        let fixed = try harness.run(["doctor", "--fix"])
        XCTAssertEqual(fixed.status, 0, fixed.stdout)
        XCTAssertEqual(try harness.run(["runs", "list"]).status, 0)
    }

    func testARunningReproIsNamedInsteadOfItsFilesReported() throws {
        let harness = try workspace()
        try harness.write("slow", "")
        let (repro, _, _) = try harness.start(["repro", "--force"])
        try harness.waitForFile("started")
        let output = try harness.run(["doctor", "--fix"])
        XCTAssertEqual(output.status, 1)
        XCTAssertTrue(output.stderr.contains("pid \(repro.processIdentifier): pipe repro"), output.stderr)
        XCTAssertEqual(output.stdout, "")
        let children = try harness.read(".cache/children")
        kill(repro.processIdentifier, SIGKILL)
        if let group = children.split(separator: " ").first.flatMap({ pid_t($0) }) { kill(-group, SIGKILL) }
        repro.waitUntilExit()
    }
}
