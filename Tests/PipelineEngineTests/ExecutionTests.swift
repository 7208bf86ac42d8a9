import ContentStore
import Foundation
import XCTest

@testable import PipelineEngine

/// Parallelism, failures, built-in stages and the lock file.
final class ExecutionTests: XCTestCase {
    func testIndependentStagesOverlapInTimeWithTwoJobs() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.write(
            "pipeline.yaml",
            """
            stages:
              left:
                cmd: sleep 0.5 && echo l > left.txt
                outs: [left.txt]
              right:
                cmd: sleep 0.5 && echo r > right.txt
                outs: [right.txt]
            """)
        let (summary, _) = try fixture.repro { $0.jobs = 2 }
        let left = try XCTUnwrap(summary.result("left"))
        let right = try XCTUnwrap(summary.result("right"))
        XCTAssertLessThan(left.startedAt, right.endedAt)
        XCTAssertLessThan(right.startedAt, left.endedAt)

        try fixture.write(
            "pipeline.yaml", try fixture.read("pipeline.yaml").replacingOccurrences(of: "0.5", with: "0.3"))
        let (serial, _) = try fixture.repro { $0.jobs = 1 }
        let first = try XCTUnwrap(serial.result("left"))
        let second = try XCTUnwrap(serial.result("right"))
        XCTAssertTrue(first.endedAt <= second.startedAt || second.endedAt <= first.startedAt, "-j 1 never overlaps")
    }

    func testAFailedStageStopsItsDependentsAndKeepsItsLockEntry() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        try fixture.repro()
        let lockBefore = try fixture.read("pipeline.lock")
        try fixture.write("data/raw.txt", "new\n")
        try fixture.write(
            "pipeline.yaml",
            try fixture.read("pipeline.yaml").replacingOccurrences(
                of: "wc -c < data/prepared.txt > data/labels.txt", with: "echo partial > data/labels.txt && exit 3"))
        let (summary, observer) = try fixture.repro { $0.jobs = 1 }
        XCTAssertEqual(summary.result("labels")?.outcome, .failed)
        XCTAssertEqual(summary.result("labels")?.exitStatus, 3)
        XCTAssertEqual(summary.result("train")?.outcome, .notRun)
        XCTAssertFalse(summary.succeeded)
        XCTAssertTrue(observer.lines.isEmpty || observer.lines.allSatisfy { !$0.1.isEmpty })
        let lock = try LockFile.load(fixture.root.appendingPathComponent("pipeline.lock"), display: "pipeline.lock")
        let before = try LockFile.load(
            fixture.root.appendingPathComponent("pipeline.lock.before").writing(lockBefore), display: "")
        XCTAssertEqual(lock.stages["labels"], before.stages["labels"], "a failed stage's lock entry is not updated")
        XCTAssertNotEqual(lock.stages["prepare"], before.stages["prepare"])
        let log = try XCTUnwrap(summary.result("labels")?.logPath)
        XCTAssertTrue(try String(contentsOfFile: log, encoding: .utf8).isEmpty)
    }

    func testWithoutKeepGoingNoNewStageStartsAfterAFailure() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.write(
            "pipeline.yaml",
            """
            stages:
              broken:
                cmd: echo oops && false
                outs: [a.txt]
              independent:
                cmd: echo fine > b.txt
                outs: [b.txt]
            """)
        let (stopped, observer) = try fixture.repro { $0.jobs = 1 }
        XCTAssertEqual(stopped.result("broken")?.outcome, .failed)
        XCTAssertEqual(stopped.result("independent")?.outcome, .notRun)
        XCTAssertEqual(observer.lines.map(\.1), ["oops"])
        let (kept, _) = try fixture.repro {
            $0.jobs = 1
            $0.keepGoing = true
        }
        XCTAssertEqual(kept.result("independent")?.outcome, .ran)
        XCTAssertEqual(kept.result("broken")?.outcome, .failed)
    }

    func testAStageThatDoesNotProduceItsOutputFails() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.write("pipeline.yaml", "stages:\n  s:\n    cmd: 'true'\n    outs: [never.txt]\n")
        let (summary, _) = try fixture.repro()
        XCTAssertEqual(summary.result("s")?.outcome, .failed)
        XCTAssertEqual(summary.result("s")?.message, "the stage succeeded but did not produce its output never.txt")
        XCTAssertFalse(fixture.exists("pipeline.lock"))
    }

    func testACommandListRunsInOrderAndStopsAtTheFirstFailure() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.write(
            "pipeline.yaml",
            "stages:\n  s:\n    cmd: [echo one > o.txt, 'false', echo three >> o.txt]\n    outs: [o.txt]\n")
        let (summary, _) = try fixture.repro()
        XCTAssertEqual(summary.result("s")?.exitStatus, 1)
        XCTAssertEqual(try fixture.read("o.txt"), "one\n")
    }

    func testBuiltinStagesGetParamsAndLogMetrics() throws {
        let fixture = try TemporaryWorkspace(registry: StageRegistry([CopyStage()]))
        try fixture.write("input.bin", "twelve bytes")
        try fixture.write("stages/copy.yaml", "source: input.bin\n")
        try fixture.write(
            "pipeline.yaml", "stages:\n  copy:\n    uses: test.copy\n    deps: [input.bin]\n    outs: [out/copy.bin]\n")
        let (summary, observer) = try fixture.repro()
        XCTAssertEqual(summary.stages(.ran), ["copy"])
        XCTAssertEqual(try fixture.read("out/copy.bin"), "twelve bytes")
        XCTAssertEqual(observer.metrics.first?.1, ["bytes": 12])
        XCTAssertEqual(observer.lines.first?.1, "copying 12 bytes")
        XCTAssertTrue(try fixture.read("pipeline.lock").contains("kind: \"uses: test.copy@1\""))

        // A new code version makes the stage stale with its own reason.
        let bumped = TemporaryWorkspaceRegistry.with(CopyStage(codeVersion: "2"))
        let statuses = try Workspace(root: fixture.root, registry: bumped).status()
        XCTAssertEqual(statuses.first?.reason, .changedCodeVersion)
    }

    func testTheLockFileIsDeterministicAndRoundTrips() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        try fixture.repro { $0.jobs = 4 }
        let first = try fixture.read("pipeline.lock")
        try fixture.remove("pipeline.lock")
        try fixture.repro { $0.jobs = 1 }
        XCTAssertEqual(try fixture.read("pipeline.lock"), first, "restores and parallel order do not change the lock")
        let lock = try fixture.workspace.loadLock()
        XCTAssertEqual(lock.yaml(order: ["prepare", "features", "labels", "train"]), first)
        XCTAssertTrue(first.hasPrefix("schema: 1\nstages:\n  \"prepare\":"))
        XCTAssertEqual(lock.stages["train"]?.outputs.first { $0.path == "model" }?.isDirectory, true)
    }

    func testARestoredDirectoryMatchesTheOriginalExactly() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.write(
            "pipeline.yaml",
            "stages:\n  tree:\n    cmd: mkdir -p out/a/b && echo 1 > out/a/one && echo 2 > out/a/b/two && touch out/empty\n    outs: [out]\n"
        )
        try fixture.repro()
        try fixture.write("out/a/extra", "intruder")
        try fixture.write("out/a/one", "changed")
        let (summary, _) = try fixture.repro()
        XCTAssertEqual(summary.stages(.restored), ["tree"])
        XCTAssertFalse(fixture.exists("out/a/extra"))
        XCTAssertEqual(try fixture.read("out/a/one"), "1\n")
        XCTAssertEqual(try fixture.read("out/empty"), "")
    }

    func testACorruptCacheObjectIsNeverRestored() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.write(
            "pipeline.yaml", "stages:\n  s:\n    cmd: echo content > o.txt && echo ran >> runs.log\n    outs: [o.txt]\n"
        )
        try fixture.repro()
        let digest = try XCTUnwrap(fixture.workspace.loadLock().stages["s"]?.outputs.first?.digest)
        let object = ObjectStore(cacheDirectory: fixture.root.appendingPathComponent(".cache")).objectURL(digest)
        chmod(object.path, 0o644)
        try Data("corrupted\n".utf8).write(to: object)
        try fixture.remove("o.txt")
        let (summary, observer) = try fixture.repro()
        XCTAssertEqual(summary.stages(.ran), ["s"], "falls back to running the stage")
        XCTAssertTrue(observer.warnings.contains { $0.contains("corrupt cache object") }, "\(observer.warnings)")
        XCTAssertEqual(try fixture.read("o.txt"), "content\n")
        XCTAssertEqual(try fixture.read("runs.log"), "ran\nran\n")
    }

    func testItem10_AReproRemovesALockTemporaryLeftByADeadWriter() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.write("pipeline.yaml", "stages:\n  a:\n    cmd: echo > o\n    outs: [o]\n")
        try fixture.write(".pipeline.lock.tmp-4242-17", "schema: 1\nstag")
        try fixture.repro()
        XCTAssertFalse(fixture.exists(".pipeline.lock.tmp-4242-17"))
        XCTAssertTrue(fixture.exists("pipeline.lock"))
    }
}

enum TemporaryWorkspaceRegistry {
    static func with(_ stages: BuiltinStage...) -> StageRegistry { StageRegistry(stages) }
}

extension URL {
    fileprivate func writing(_ text: String) throws -> URL {
        try Data(text.utf8).write(to: self)
        return self
    }
}
