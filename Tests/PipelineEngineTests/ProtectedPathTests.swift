import ContentStore
import Foundation
import XCTest

@testable import PipelineEngine

/// Issue 20, item 1: an output may not be, lie inside or contain a path that pipe or git keeps, because
/// outputs are deleted before their stage runs. Each refusal is a located `protectedOutput` (exit 2).
final class ProtectedPathTests: XCTestCase {
    /// Validates a one-stage pipeline whose `key` lists `path`; returns the error, or nil when accepted.
    private func refusal(_ key: String, _ path: String, setUp: (TemporaryWorkspace) throws -> Void = { _ in })
        throws -> PipelineError?
    {
        let fixture = try TemporaryWorkspace()
        try setUp(fixture)
        try fixture.write("pipeline.yaml", "stages:\n  a:\n    cmd: echo\n    \(key): ['\(path)']\n")
        do {
            _ = try fixture.workspace.loadGraph()
            return nil
        } catch let error as PipelineError {
            return error
        }
    }

    private func assertProtected(
        _ key: String, _ path: String, protected: String, file: StaticString = #filePath, line: UInt = #line,
        setUp: (TemporaryWorkspace) throws -> Void = { _ in }
    ) throws {
        let error = try refusal(key, path, setUp: setUp)
        guard case .protectedOutput(let location, key, _, protected, _)? = error else {
            return XCTFail(
                "\(key): '\(path)': expected protectedOutput of '\(protected)', got \(String(describing: error))",
                file: file, line: line)
        }
        XCTAssertEqual(location.description, "pipeline.yaml:4:\(key.count + 8)", file: file, line: line)
        XCTAssertTrue(
            error?.description.contains("\(key) entry") == true, "\(String(describing: error))", file: file, line: line)
    }

    func testItem1_OutputDotGitIsRefused() throws {
        try assertProtected("outs", ".git", protected: ".git")
    }

    func testItem1_OutputInsideDotGitIsRefused() throws {
        try assertProtected("outs", ".git/hooks/pre-commit", protected: ".git")
    }

    func testItem1_OutputInsideANestedRepositoryIsRefused() throws {
        try assertProtected("outs", "vendor/lib/.git/config", protected: "vendor/lib/.git")
    }

    func testItem1_OutputPipelineYamlIsRefused() throws {
        try assertProtected("outs", "pipeline.yaml", protected: "pipeline.yaml")
    }

    func testItem1_OutputPipelineLockIsRefused() throws {
        try assertProtected("outs", "./pipeline.lock", protected: "pipeline.lock")
    }

    func testItem1_OutputStagesIsRefused() throws {
        try assertProtected("outs", "stages", protected: "stages")
    }

    func testItem1_OutputInsideStagesIsRefused() throws {
        try assertProtected("outs", "stages/train.yaml", protected: "stages")
    }

    func testItem1_OutputCacheIsRefused() throws {
        try assertProtected("outs", ".cache/objects", protected: ".cache")
    }

    func testItem1_OutputRunsIsRefused() throws {
        try assertProtected("outs", "runs", protected: "runs")
    }

    func testItem1_MetricsInsideRunsIsRefused() throws {
        try assertProtected("metrics", "runs/pipe.sqlite", protected: "runs")
    }

    func testItem1_PlotNamingTheLockIsRefused() throws {
        try assertProtected("plots", "pipeline.lock", protected: "pipeline.lock")
    }

    func testItem1_OutputWorkspaceRootDotIsRefused() throws {
        try assertProtected("outs", ".", protected: ".")
    }

    func testItem1_OutputWorkspaceRootDotSlashIsRefused() throws {
        try assertProtected("outs", "./", protected: ".")
    }

    func testItem1_OutputWorkspaceRootSpelledWithDotsAndSlashesIsRefused() throws {
        try assertProtected("outs", "././/", protected: ".")
    }

    func testItem1_EmptyOutputPathIsRefused() throws {
        let error = try refusal("outs", "")
        guard case .invalidPath(let location, "", "empty")? = error else {
            return XCTFail("\(String(describing: error))")
        }
        XCTAssertEqual(location.line, 4)
    }

    func testItem1_AbsoluteOutputIsRefused() throws {
        let error = try refusal("outs", "/tmp/x")
        guard case .pathEscapesWorkspace(let location, "/tmp/x", _)? = error else {
            return XCTFail("\(String(describing: error))")
        }
        XCTAssertEqual(location.line, 4)
    }

    func testItem1_OutputEscapingWithDotDotAfterNormalisationIsRefused() throws {
        let error = try refusal("outs", "data/./../../x")
        guard case .pathEscapesWorkspace(_, "data/./../../x", _)? = error else {
            return XCTFail("\(String(describing: error))")
        }
    }

    func testItem1_OutputReachingDotGitThroughASymlinkIsRefused() throws {
        try assertProtected("outs", "gitlink/hooks", protected: ".git") { fixture in
            try FileManager.default.createDirectory(
                at: fixture.root.appendingPathComponent(".git/hooks"), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                atPath: fixture.root.appendingPathComponent("gitlink").path, withDestinationPath: ".git")
        }
    }

    func testItem1_OrdinaryOutputsNamedLikeProtectedOnesAreAccepted() throws {
        for path in [
            "runs.txt", "stages2/x", "data/runs", "data/stages", ".cache2", "pipeline.yaml.bak", "data/.gitkeep",
        ] {
            XCTAssertNil(try refusal("outs", path), path)
        }
    }

    func testItem1_ARefusedOutputIsNeverDeleted() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.write(".git/HEAD", "ref: refs/heads/main\n")
        try fixture.write("runs/keep.txt", "run store\n")
        try fixture.write("pipeline.yaml", "stages:\n  a:\n    cmd: echo hi > o\n    outs: [o, runs, .git]\n")
        XCTAssertThrowsError(try fixture.repro()) { error in
            guard case .protectedOutput(_, "outs", "runs", "runs", _)? = error as? PipelineError else {
                return XCTFail("\(error)")
            }
        }
        XCTAssertEqual(try fixture.read(".git/HEAD"), "ref: refs/heads/main\n")
        XCTAssertEqual(try fixture.read("runs/keep.txt"), "run store\n")
    }
}
