import Foundation
import XCTest

@testable import Tracking

final class GitFactsTests: XCTestCase {
    func testRecordedCommitIsGitRevParseHead() throws {
        let root = try makeRepository(self)
        let facts = GitFacts.read(workspace: root)
        XCTAssertEqual(facts.commit, try shell("git", ["rev-parse", "HEAD"], in: root))
        XCTAssertEqual(facts.branch, "main")
        XCTAssertFalse(facts.isDetached)
        XCTAssertFalse(facts.isDirty)
        XCTAssertNil(facts.warning)
    }

    func testEditingATrackedFileMakesTheTreeDirty() throws {
        let root = try makeRepository(self)
        try write("two\n", to: "tracked.txt", in: root)
        XCTAssertTrue(GitFacts.read(workspace: root).isDirty)
    }

    func testStagedChangeMakesTheTreeDirty() throws {
        let root = try makeRepository(self)
        try write("two\n", to: "tracked.txt", in: root)
        try shell("git", ["add", "tracked.txt"], in: root)
        XCTAssertTrue(GitFacts.read(workspace: root).isDirty)
    }

    func testUntrackedFileMakesTheTreeDirty() throws {
        let root = try makeRepository(self)
        try write("new\n", to: "notes/new.txt", in: root)
        XCTAssertTrue(GitFacts.read(workspace: root).isDirty)
    }

    func testIgnoredFilesAndCacheAndRunsFoldersLeaveTheTreeClean() throws {
        let root = try makeRepository(self)
        try write("*.log\n", to: ".gitignore", in: root)
        try shell("git", ["add", ".gitignore"], in: root)
        try shell("git", ["commit", "-q", "-m", "ignore logs"], in: root)
        try write("noise\n", to: "build.log", in: root)
        try write("object\n", to: ".cache/objects/ab/cdef", in: root)
        try write("sqlite\n", to: "runs/pipe.sqlite", in: root)
        try write("log\n", to: "runs/01ABC/train.txt", in: root)
        let facts = GitFacts.read(workspace: root)
        XCTAssertFalse(facts.isDirty)
        XCTAssertNil(facts.warning)
    }

    func testCacheFolderOfANestedWorkspaceIsExcludedRelativeToTheWorkspace() throws {
        let root = try makeRepository(self)
        let workspace = root.appendingPathComponent("project")
        try write("stages\n", to: "project/pipeline.yaml", in: root)
        try shell("git", ["add", "project"], in: root)
        try shell("git", ["commit", "-q", "-m", "project"], in: root)
        try write("object\n", to: "project/.cache/objects/x", in: root)
        try write("run\n", to: "project/runs/pipe.sqlite", in: root)
        XCTAssertFalse(GitFacts.read(workspace: workspace).isDirty)
        // A `runs/` folder elsewhere in the repository is ordinary content.
        try write("other\n", to: "runs/elsewhere.txt", in: root)
        XCTAssertTrue(GitFacts.read(workspace: workspace).isDirty)
    }

    func testReadingFromASubdirectoryFindsTheRepository() throws {
        let root = try makeRepository(self)
        try write("x\n", to: "a/b/c/file.txt", in: root)
        try shell("git", ["add", "a"], in: root)
        try shell("git", ["commit", "-q", "-m", "deep"], in: root)
        let facts = GitFacts.read(workspace: root.appendingPathComponent("a/b/c"))
        XCTAssertEqual(facts.commit, try shell("git", ["rev-parse", "HEAD"], in: root))
        XCTAssertEqual(
            facts.repositoryRoot.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path },
            root.resolvingSymlinksInPath().path)
        XCTAssertFalse(facts.isDirty)
    }

    func testRepositoryWithNoCommitsHasABranchButNoCommit() throws {
        let root = try makeRepository(self, commit: false)
        let facts = GitFacts.read(workspace: root)
        XCTAssertEqual(facts.commit, "")
        XCTAssertEqual(facts.branch, "main")
        XCTAssertFalse(facts.isDirty)
        XCTAssertNil(facts.warning)
        try write("first\n", to: "file.txt", in: root)
        XCTAssertTrue(GitFacts.read(workspace: root).isDirty)
    }

    func testOutsideAnyRepositoryTheCommitIsEmptyWithOneWarning() throws {
        let directory = try makeTemporaryDirectory(self)
        // Stop discovery at the temporary directory so a repository above it cannot leak in.
        setenv("GIT_CEILING_DIRECTORIES", directory.deletingLastPathComponent().path, 1)
        defer { unsetenv("GIT_CEILING_DIRECTORIES") }
        let facts = GitFacts.read(workspace: directory)
        XCTAssertEqual(facts.commit, "")
        XCTAssertNil(facts.branch)
        XCTAssertFalse(facts.isDirty)
        let warning = try XCTUnwrap(facts.warning)
        XCTAssertTrue(warning.contains("not inside a git repository"), warning)
        XCTAssertFalse(warning.contains("\n"))
    }

    func testDetachedHeadHasNoBranch() throws {
        let root = try makeRepository(self)
        let head = try shell("git", ["rev-parse", "HEAD"], in: root)
        try shell("git", ["checkout", "-q", "--detach", head], in: root)
        let facts = GitFacts.read(workspace: root)
        XCTAssertEqual(facts.commit, head)
        XCTAssertNil(facts.branch)
        XCTAssertTrue(facts.isDetached)
    }

    func testRepositoryOwnedByAnotherUserIsRefusedWithAClearWarning() throws {
        let root = try makeRepository(self)
        // Hand the repository to `nobody`; libgit2's owner check then refuses it (we run as its owner otherwise).
        guard geteuid() == 0 else { throw XCTSkip("needs root to give the repository to another user") }
        try shell("chown", ["-R", "65534:65534", root.path], in: root)
        let facts = GitFacts.read(workspace: root)
        XCTAssertEqual(facts.commit, "")
        let warning = try XCTUnwrap(facts.warning)
        XCTAssertTrue(warning.contains("owned by another user"), warning)
        XCTAssertTrue(warning.contains("safe.directory"), warning)
    }

    func testShortDescriptionMarksDirtyTrees() {
        XCTAssertEqual(
            GitFacts(commit: "0123456789abcdef", branch: "main", isDirty: true).shortDescription, "01234567*")
        XCTAssertEqual(GitFacts(commit: "0123456789abcdef", branch: nil, isDirty: false).shortDescription, "01234567")
        XCTAssertEqual(GitFacts.none().shortDescription, "-")
    }

    func testLibgit2VersionIsReadable() {
        XCTAssertTrue(LibGit2.version.split(separator: ".").count == 3, LibGit2.version)
    }

    func testARunRecordsTheCommitGitReports() throws {
        let root = try makeRepository(self)
        try write("edit\n", to: "tracked.txt", in: root)
        let store = try RunStore.open(workspace: root)
        let run = try store.beginRun(
            kind: .repro, argv: ["pipe", "repro"], git: GitFacts.read(workspace: root), pipeVersion: "0.1.0")
        let record = try store.show(run).summary.run
        XCTAssertEqual(record.gitCommit, try shell("git", ["rev-parse", "HEAD"], in: root))
        XCTAssertEqual(record.gitBranch, "main")
        XCTAssertTrue(record.gitDirty)
        // The store itself, under runs/, does not make the tree dirty.
        try shell("git", ["checkout", "--", "tracked.txt"], in: root)
        XCTAssertFalse(GitFacts.read(workspace: root).isDirty)
    }
}
