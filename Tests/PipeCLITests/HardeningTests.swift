import Foundation
import XCTest

/// Issue 20 end to end: what a hostile or careless pipeline, param, record or model gets from the binary.
final class HardeningTests: XCTestCase {
    func testItem1_OutputsNamingTheRunStoreAndDotGitExitTwoAndDeleteNothing() throws {
        let harness = try BinaryHarness()
        try harness.write(".git/HEAD", "ref: refs/heads/main\n")
        try harness.write("runs/keep.txt", "run store\n")
        try harness.write("pipeline.yaml", "stages:\n  a:\n    cmd: echo hi > o\n    outs: [o, runs, .git]\n")
        for command in [["repro"], ["status"], ["verify"], ["repro", "--force"]] {
            let output = try harness.run(command)
            XCTAssertEqual(output.status, 2, "\(command): \(output.stderr)")
            XCTAssertTrue(
                output.stderr.contains("pipeline.yaml:4:15: outs entry 'runs' is the run store"),
                "\(command): \(output.stderr)")
        }
        XCTAssertEqual(try harness.read(".git/HEAD"), "ref: refs/heads/main\n")
        XCTAssertEqual(try harness.read("runs/keep.txt"), "run store\n")
    }

    func testItem1_TheWorkspaceRootAsAnOutputExitsTwoWithAMessage() throws {
        let harness = try BinaryHarness()
        try harness.write("pipeline.yaml", "stages:\n  a:\n    cmd: echo hi\n    outs: [.]\n")
        let output = try harness.run(["repro"])
        XCTAssertEqual(output.status, 2, output.stderr)
        XCTAssertTrue(
            output.stderr.contains("pipeline.yaml:4:12: outs entry '.' is the workspace root"), output.stderr)
        XCTAssertFalse(output.stderr.contains("NSCocoaErrorDomain"), output.stderr)
    }
}
