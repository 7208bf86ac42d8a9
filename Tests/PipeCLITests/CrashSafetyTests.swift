import Foundation
import XCTest

/// kill -9 at random moments: the next repro always ends in the lock and outputs of an uninterrupted run.
final class CrashSafetyTests: XCTestCase {
    /// Four stages that write their outputs slowly, in pieces, so a kill lands mid-write.
    static let pipeline = """
        stages:
          split:
            cmd: for i in 1 2 3 4 5; do echo "row $i" >> parts.txt; sleep 0.01; done; mkdir -p chunks && cp parts.txt chunks/a && cp parts.txt chunks/b
            deps: [input.txt]
            outs: [parts.txt, chunks]
          left:
            cmd: for i in 1 2 3; do cat chunks/a >> left.txt; sleep 0.02; done
            deps: [chunks]
            outs: [left.txt]
          right:
            cmd: for i in 1 2 3; do cat chunks/b >> right.txt; sleep 0.02; done
            deps: [chunks]
            outs: [right.txt]
          join:
            cmd: cat left.txt right.txt input.txt > joined.txt && sleep 0.03 && wc -l < joined.txt > count.txt
            deps: [left.txt, right.txt, input.txt]
            outs: [joined.txt, count.txt]

        """

    static let outputs = ["parts.txt", "chunks/a", "chunks/b", "left.txt", "right.txt", "joined.txt", "count.txt"]

    private func makeWorkspace(_ harness: BinaryHarness, name: String) throws -> URL {
        let directory = harness.root.appendingPathComponent(name)
        try harness.write("pipeline.yaml", Self.pipeline, in: directory)
        try harness.write("input.txt", "input\n", in: directory)
        return directory
    }

    private func snapshot(_ harness: BinaryHarness, _ directory: URL) throws -> [String: String] {
        var files: [String: String] = ["pipeline.lock": try harness.read("pipeline.lock", in: directory)]
        for path in Self.outputs { files[path] = try harness.read(path, in: directory) }
        return files
    }

    func testKillDashNineAtTwentyRandomMomentsThenReproMatchesAnUninterruptedRun() throws {
        let harness = try BinaryHarness()
        let reference = try makeWorkspace(harness, name: "reference")
        let started = Date()
        XCTAssertEqual(try harness.run(["repro"], in: reference).status, 0)
        let duration = Date().timeIntervalSince(started)
        let expected = try snapshot(harness, reference)

        var generator = SystemRandomNumberGenerator()
        var killedMidRun = 0
        var shared = try makeWorkspace(harness, name: "shared")
        for iteration in 0..<30 {
            // Even iterations start from nothing; odd ones reuse a workspace whose cache has seen these
            // stages, with outputs and lock removed, so kills also land in restores.
            let directory: URL
            if iteration % 2 == 0 {
                directory = try makeWorkspace(harness, name: "fresh-\(iteration)")
            } else {
                for path in [
                    "pipeline.lock", "parts.txt", "chunks", "left.txt", "right.txt", "joined.txt", "count.txt",
                ] {
                    try? FileManager.default.removeItem(at: shared.appendingPathComponent(path))
                }
                directory = shared
            }
            let (process, _, _) = try harness.start(["repro"], in: directory)
            // A restore is much quicker than a run, so its kills come sooner.
            let window = iteration % 2 == 0 ? duration * 0.95 : 0.03
            Thread.sleep(forTimeInterval: Double.random(in: 0.002...window, using: &generator))
            if process.isRunning { killedMidRun += 1 }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let again = try harness.run(["repro"], in: directory)
            XCTAssertEqual(again.status, 0, "iteration \(iteration): \(again.stdout)\(again.stderr)")
            XCTAssertEqual(try snapshot(harness, directory), expected, "iteration \(iteration)")
            let null = try harness.run(["status", "--check"], in: directory)
            XCTAssertEqual(null.status, 0, "iteration \(iteration): \(null.stdout)")
            if iteration == 1 { shared = directory }
        }
        XCTAssertGreaterThanOrEqual(killedMidRun, 20, "most kills must land while the repro runs")
    }
}
