import ContentStore
import Foundation
import XCTest

@testable import PipelineEngine

/// The engine's incremental behaviour, asserted through what it counts: every test ends with a null run.
final class IncrementalReproTests: XCTestCase {
    func testFirstReproRunsEveryStageAndTheNextRunsNone() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        let (first, _) = try fixture.repro()
        XCTAssertEqual(first.stages(.ran), ["prepare", "features", "labels", "train"])
        XCTAssertEqual(first.results.map(\.reason), [.neverRun, .neverRun, .neverRun, .neverRun])
        let (second, observer) = try fixture.repro()
        XCTAssertEqual(second.count(.ran), 0)
        XCTAssertEqual(second.count(.skipped), 4)
        XCTAssertTrue(observer.started.isEmpty)
        XCTAssertEqual(try fixture.read("runs.log").split(separator: "\n").count, 4, "each command ran once")
    }

    func testEditingADependencyRerunsThatStageAndItsDownstreamOnly() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        try fixture.repro()
        try fixture.write("stages/features.yaml", "window: 187\nscale: 1.0\n")  // unchanged content
        try fixture.write("data/raw.txt", "other raw data\n")
        let (summary, _) = try fixture.repro()
        XCTAssertEqual(summary.stages(.ran), ["prepare", "features", "labels", "train"])
        XCTAssertEqual(summary.reason("prepare"), .changedDep("data/raw.txt"))
        XCTAssertEqual(summary.reason("features"), .changedDep("data/prepared.txt"))

        // A change in one branch leaves the other branch alone.
        try fixture.write("data/labels.txt", "tampered\n")
        let (branch, _) = try fixture.repro()
        XCTAssertEqual(branch.stages(.restored), ["labels"])
        XCTAssertEqual(branch.reason("labels"), .modifiedOutput("data/labels.txt"))
        XCTAssertEqual(branch.stages(.skipped), ["prepare", "features", "train"])
        XCTAssertEqual(try fixture.repro().0.count(.skipped), 4)
    }

    func testChangingAParamRerunsOnlyTheStagesDeclaringIt() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        try fixture.repro()
        try fixture.write("stages/train.yaml", "lr: 0.01\nepochs: 10\n")
        let (summary, _) = try fixture.repro()
        XCTAssertEqual(summary.stages(.ran), ["train"])
        XCTAssertEqual(summary.reason("train"), .changedParam("lr"))
        XCTAssertEqual(summary.stages(.skipped), ["prepare", "features", "labels"])
        XCTAssertEqual(try fixture.repro().0.count(.ran), 0)
    }

    func testAParamRespelledWithTheSameValueChangesNothing() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        try fixture.repro()
        try fixture.write("stages/train.yaml", "# comment\nepochs: 10\nlr: 1.0e-3\n")
        XCTAssertEqual(try fixture.repro().0.count(.skipped), 4)
    }

    func testDeletingAnOutputRestoresItWithoutRunningTheStage() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        try fixture.repro()
        let before = try fixture.read("model/weights.txt")
        try fixture.remove("model")
        try fixture.remove("runs.log")
        let (summary, _) = try fixture.repro()
        XCTAssertEqual(summary.stages(.restored), ["train"])
        XCTAssertEqual(summary.reason("train"), .missingOutput("model"))
        XCTAssertEqual(summary.count(.ran), 0)
        XCTAssertFalse(fixture.exists("runs.log"), "no command ran")
        XCTAssertEqual(try fixture.read("model/weights.txt"), before)
        XCTAssertEqual(try fixture.repro().0.count(.skipped), 4)
    }

    func testRevertingAParamRestoresFromTheRunCache() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        try fixture.repro()
        let original = try fixture.read("model/weights.txt")
        try fixture.write("stages/train.yaml", "lr: 0.1\nepochs: 10\n")
        XCTAssertEqual(try fixture.repro().0.stages(.ran), ["train"])
        try fixture.write("stages/train.yaml", "lr: 0.001\nepochs: 10\n")
        let (summary, _) = try fixture.repro()
        XCTAssertEqual(summary.stages(.restored), ["train"])
        XCTAssertEqual(summary.count(.ran), 0)
        XCTAssertEqual(try fixture.read("model/weights.txt"), original)
        XCTAssertEqual(try fixture.read("metrics.json"), "{\"acc\":0.5}\n")
        XCTAssertEqual(try fixture.repro().0.count(.skipped), 4)
    }

    func testNoRunCacheRunsInsteadOfRestoring() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        try fixture.repro()
        try fixture.remove("data/labels.txt")
        let (summary, _) = try fixture.repro { $0.useRunCache = false }
        XCTAssertEqual(summary.stages(.ran), ["labels", "train"])
        XCTAssertEqual(summary.reason("train"), .upstreamRan("labels"))
        XCTAssertEqual(try fixture.repro().0.count(.skipped), 4)
    }

    func testOverrideIsUsedForThisRunOnly() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        try fixture.repro()
        let override = try ParamOverride(parsing: "train.lr=0.5")
        let (overridden, _) = try fixture.repro { $0.overrides = [override] }
        XCTAssertEqual(overridden.stages(.ran), ["train"])
        XCTAssertTrue(try fixture.read("pipeline.lock").contains("\"lr\": 0.5"))
        let (back, _) = try fixture.repro()
        XCTAssertEqual(back.stages(.restored), ["train"])
        XCTAssertEqual(back.reason("train"), .changedParam("lr"))
    }

    func testForceRunsEvenUpToDateStages() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        try fixture.repro()
        let (summary, _) = try fixture.repro {
            $0.force = true
            $0.targets = ["labels"]
            $0.singleItem = true
        }
        XCTAssertEqual(summary.results.map(\.stage), ["labels"])
        XCTAssertEqual(summary.reason("labels"), .forced)
        XCTAssertEqual(summary.stages(.ran), ["labels"])
    }

    func testTargetsSelectUpstreamOrDownstream() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        let (upstream, _) = try fixture.repro { $0.targets = ["features"] }
        XCTAssertEqual(upstream.stages(.ran), ["prepare", "features"])
        try fixture.write("data/raw.txt", "changed\n")
        let (downstream, _) = try fixture.repro {
            $0.targets = ["labels"]
            $0.downstream = true
        }
        XCTAssertEqual(downstream.results.map(\.stage), ["labels", "train"])
    }

    func testDryRunChangesNothing() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        let (summary, _) = try fixture.repro { $0.dryRun = true }
        XCTAssertEqual(summary.count(.wouldRun), 4)
        XCTAssertFalse(fixture.exists("pipeline.lock"))
        XCTAssertFalse(fixture.exists("data/prepared.txt"))
    }

    func testStatusReportsReasonsWithoutRunning() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        XCTAssertEqual(try fixture.workspace.status().map(\.reason), [.neverRun, .neverRun, .neverRun, .neverRun])
        try fixture.repro()
        try fixture.write("stages/features.yaml", "window: 250\nscale: 1.0\n")
        let statuses = try fixture.workspace.status()
        XCTAssertEqual(
            statuses.map(\.reason), [.upToDate, .changedParam("window"), .upToDate, .upstreamStale("features")])
        XCTAssertFalse(try fixture.read("runs.log").contains("window"))
    }

    func testStatCacheNoticesASameSizeRewriteInTheSameSecond() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        try fixture.repro()
        try fixture.write("data/raw.txt", "RAW DATA\n")  // same size, written immediately
        XCTAssertEqual(try fixture.workspace.status().first?.reason, .changedDep("data/raw.txt"))
    }

    func testPersistentOutputsSurviveAndOthersAreRemovedBeforeARun() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.write("in.txt", "1\n")
        try fixture.write(
            "pipeline.yaml",
            """
            stages:
              append:
                cmd: cat in.txt >> history.txt && s=$(test -e fresh.txt && echo stale || echo clean) && echo $s > fresh.txt
                deps: [in.txt]
                outs: [{path: history.txt, persist: true}, fresh.txt]
            """)
        try fixture.repro()
        try fixture.write("in.txt", "2\n")
        try fixture.repro()
        XCTAssertEqual(try fixture.read("history.txt"), "1\n2\n")
        XCTAssertEqual(try fixture.read("fresh.txt"), "clean\n")
        XCTAssertEqual(try fixture.repro().0.count(.skipped), 1)
    }

    func testAlwaysChangedAndFrozenStages() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.write(
            "pipeline.yaml",
            """
            stages:
              clock:
                cmd: date +%s%N > now.txt
                outs: [now.txt]
                always_changed: true
              pinned:
                cmd: echo pinned > pinned.txt
                outs: [pinned.txt]
                frozen: true
            """)
        let (first, _) = try fixture.repro()
        XCTAssertEqual(first.stages(.ran), ["clock"])
        XCTAssertEqual(first.reason("pinned"), .frozen)
        let (second, _) = try fixture.repro()
        XCTAssertEqual(second.stages(.ran), ["clock"])
        XCTAssertEqual(second.reason("clock"), .alwaysChanged)
    }

    func testChangingTheCommandRerunsTheStage() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.write("pipeline.yaml", "stages:\n  s:\n    cmd: echo 1 > o.txt\n    outs: [o.txt]\n")
        try fixture.repro()
        try fixture.write(
            "pipeline.yaml", "stages:\n  s:\n    cmd: echo 2 > o.txt\n    outs: [o.txt]\n    desc: cosmetic\n")
        let (summary, _) = try fixture.repro()
        XCTAssertEqual(summary.reason("s"), .changedCommand)
        try fixture.write(
            "pipeline.yaml", "stages:\n  s:\n    cmd: echo 2 > o.txt\n    outs: [o.txt]\n    desc: other words\n")
        XCTAssertEqual(try fixture.repro().0.count(.skipped), 1, "desc is not part of the signature")
    }
}
