import Foundation
import XCTest

/// `pipe push / fetch / pull / status --remote / gc` end to end on a directory remote, through the binary.
/// `S3RemoteSyncTests` runs the same cases against a real S3 server.
class RemoteSyncTests: XCTestCase {
    /// Workspace A (a git repository with a two-stage pipeline) and its remote.
    var workspace: BinaryHarness!
    var remoteDirectory: URL!

    /// The remote's URL in `pipe remote add`, and its extra flags.
    func remoteArguments() throws -> [String] { [remoteDirectory.path] }

    /// Extra environment for every pipe run (credentials for S3).
    var environment: [String: String] { [:] }

    /// The bytes stored under a remote key, nil when absent.
    func remoteObject(_ key: String) throws -> Data? {
        try? Data(contentsOf: remoteDirectory.appendingPathComponent(key))
    }

    func overwriteRemoteObject(_ key: String, with data: Data) throws {
        let url = remoteDirectory.appendingPathComponent(key)
        chmod(url.path, 0o644)
        try data.write(to: url)
    }

    func remoteKeys() throws -> [String] {
        let base = remoteDirectory.path + "/"
        let enumerator = FileManager.default.enumerator(atPath: remoteDirectory.path)
        var keys: [String] = []
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: base + path, isDirectory: &isDirectory), !isDirectory.boolValue,
                !(path as NSString).lastPathComponent.hasPrefix(".")
            {
                keys.append(path)
            }
        }
        return keys.sorted()
    }

    override func setUpWithError() throws {
        remoteDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-remote-\(UUID())")
        try FileManager.default.createDirectory(at: remoteDirectory, withIntermediateDirectories: true)
        workspace = try BinaryHarness()
        try makePipeline(in: workspace)
    }

    override func tearDownWithError() throws {
        // A subclass's setUp may have skipped before these were made.
        if let remoteDirectory { try? FileManager.default.removeItem(at: remoteDirectory) }
        workspace = nil
    }

    // MARK: - Cases

    func testPushThenPullInAFreshCloneGivesIdenticalOutputsAndReproRunsNothing() throws {
        try reproAndCommit()
        let push = try pipe(["push"])
        XCTAssertEqual(push.status, 0, push.stderr)
        XCTAssertTrue(push.stdout.hasPrefix("pushed 5 objects, "), push.stdout)
        XCTAssertTrue(push.stdout.contains(", 0 already there"), push.stdout)

        let clone = try cloneWorkspace()
        let pull = try pipe(["pull"], in: clone)
        XCTAssertEqual(pull.status, 0, pull.stderr)
        for path in ["data/raw/a.txt", "data/raw/b.txt", "data/raw/sub/c.txt", "data/summary.txt"] {
            XCTAssertEqual(try clone.read(path), try workspace.read(path), path)
        }
        XCTAssertEqual(try pipe(["status", "--check"], in: clone).status, 0)
        let repro = try pipe(["repro"], in: clone)
        XCTAssertEqual(repro.status, 0, repro.stderr)
        XCTAssertTrue(repro.stdout.contains("0 ran, 0 restored, 2 skipped."), repro.stdout)
    }

    func testANoOpPushMovesNothing() throws {
        try reproAndCommit()
        XCTAssertEqual(try pipe(["push"]).status, 0)
        let again = try pipe(["push"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.hasPrefix("pushed 0 objects, 0 B, 5 already there"), again.stdout)
    }

    func testAfterAParamChangePushUploadsOnlyTheNewObjects() throws {
        try reproAndCommit()
        XCTAssertEqual(try pipe(["push"]).status, 0)
        try workspace.write("stages/generate.yaml", "copies: 3\nfiles: 0\n")
        XCTAssertEqual(try pipe(["repro"]).status, 0)
        let push = try pipe(["push"])
        XCTAssertEqual(push.status, 0, push.stderr)
        // New: b.txt and the raw manifest (a.txt and sub/c.txt are unchanged), and summary.txt.
        XCTAssertTrue(push.stdout.hasPrefix("pushed 3 objects, "), push.stdout)
        XCTAssertTrue(push.stdout.contains(", 2 already there"), push.stdout)
    }

    func testAPushedObjectIsStoredUnderItsSHA256AtTheDocumentedKey() throws {
        try reproAndCommit()
        XCTAssertEqual(try pipe(["push"]).status, 0)
        let bytes = try Data(contentsOf: workspace.root.appendingPathComponent("data/summary.txt"))
        let hex = sha256Hex(bytes)
        let key = "objects/\(hex.prefix(2))/\(hex.dropFirst(2))"
        XCTAssertEqual(try remoteObject(key), bytes)
    }

    func testACorruptRemoteObjectFailsThePullNamingItAndChangesNothing() throws {
        try reproAndCommit()
        XCTAssertEqual(try pipe(["push"]).status, 0)
        let bytes = try Data(contentsOf: workspace.root.appendingPathComponent("data/summary.txt"))
        let hex = sha256Hex(bytes)
        let key = "objects/\(hex.prefix(2))/\(hex.dropFirst(2))"
        try overwriteRemoteObject(key, with: Data("tampered\n".utf8))

        let clone = try cloneWorkspace()
        let pull = try pipe(["pull"], in: clone)
        XCTAssertEqual(pull.status, 1, pull.stdout)
        XCTAssertTrue(pull.stderr.contains(key) && pull.stderr.contains("corrupt"), pull.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: clone.root.appendingPathComponent("data").path))
        let objects = clone.root.appendingPathComponent(".cache/objects/\(hex.prefix(2))/\(hex.dropFirst(2))")
        XCTAssertFalse(FileManager.default.fileExists(atPath: objects.path), "a corrupt object entered the cache")
    }

    func testStatusRemoteSaysWhatIsWhere() throws {
        try reproAndCommit()
        let before = try pipe(["status", "--remote"])
        XCTAssertEqual(before.status, 0, before.stderr)
        XCTAssertTrue(before.stdout.contains("generate: data/raw: missing on the remote"), before.stdout)
        XCTAssertEqual(try pipe(["status", "--remote", "--check"]).status, 1)
        XCTAssertEqual(try pipe(["push", "generate"]).status, 0)
        let partly = try pipe(["status", "--remote", "--json"])
        XCTAssertTrue(partly.stdout.contains("\"state\" : \"in sync\""), partly.stdout)
        XCTAssertTrue(partly.stdout.contains("\"state\" : \"missing on the remote\""), partly.stdout)
        XCTAssertEqual(try pipe(["push"]).status, 0)
        let clone = try cloneWorkspace()
        let fresh = try pipe(["status", "--remote", "store"], in: clone)
        XCTAssertTrue(fresh.stdout.contains("summarize: data/summary.txt: missing locally"), fresh.stdout)
        XCTAssertEqual(try pipe(["fetch"], in: clone).status, 0)
        let synced = try pipe(["status", "--remote", "--check"], in: clone)
        XCTAssertEqual(synced.status, 0, synced.stdout)
        XCTAssertTrue(synced.stdout.hasSuffix("Cache and remote are in sync (2 outputs).\n"), synced.stdout)
    }

    func testKilledPushesAndPullsCompleteWhenRunAgain() throws {
        try workspace.write("stages/generate.yaml", "copies: 2\nfiles: 400\n")
        try reproAndCommit()
        for delay in [0.005, 0.02, 0.05] {
            try killAfter(delay, ["push", "-j", "2"], in: workspace)
        }
        let push = try pipe(["push"])
        XCTAssertEqual(push.status, 0, push.stderr)
        let clone = try cloneWorkspace()
        for delay in [0.005, 0.02, 0.05] {
            try killAfter(delay, ["pull", "-j", "2"], in: clone)
        }
        let pull = try pipe(["pull"], in: clone)
        XCTAssertEqual(pull.status, 0, pull.stderr)
        XCTAssertEqual(try clone.read("data/raw/b.txt"), try workspace.read("data/raw/b.txt"))
        XCTAssertEqual(try pipe(["status", "--check"], in: clone).status, 0)
        XCTAssertEqual(try pipe(["push"], in: clone).stdout.hasPrefix("pushed 0 objects"), true)
        try assertNoTemporaryKeys()
    }

    func testRunCacheEntriesLetAnotherCloneRestoreAStaleStage() throws {
        try reproAndCommit()
        // A second configuration, run and pushed with its run-cache entry, then the workspace goes back.
        try workspace.write("stages/generate.yaml", "copies: 5\nfiles: 0\n")
        XCTAssertEqual(try pipe(["repro"]).status, 0)
        XCTAssertEqual(try pipe(["push", "--run-cache"]).status, 0)
        try workspace.write("stages/generate.yaml", "copies: 2\nfiles: 0\n")
        XCTAssertEqual(try pipe(["repro"]).status, 0)
        XCTAssertEqual(try pipe(["push", "--run-cache"]).status, 0)

        let clone = try cloneWorkspace()
        XCTAssertEqual(try pipe(["pull", "--run-cache"], in: clone).status, 0)
        try clone.write("stages/generate.yaml", "copies: 5\nfiles: 0\n")
        let repro = try pipe(["repro"], in: clone)
        XCTAssertEqual(repro.status, 0, repro.stderr)
        XCTAssertTrue(repro.stdout.contains("0 ran, 2 restored"), repro.stdout)
    }

    func testAllCommitsPushesTheOutputsOfOlderLocks() throws {
        try reproAndCommit()
        let oldSummary = try workspace.read("data/summary.txt")
        try workspace.write("stages/generate.yaml", "copies: 7\nfiles: 0\n")
        XCTAssertEqual(try pipe(["repro"]).status, 0)
        try git(["commit", "-qam", "seven"], in: workspace.root)
        XCTAssertEqual(try pipe(["push"]).status, 0)
        let hex = sha256Hex(Data(oldSummary.utf8))
        XCTAssertNil(try remoteObject("objects/\(hex.prefix(2))/\(hex.dropFirst(2))"))
        let all = try pipe(["push", "--all-commits"])
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertEqual(try remoteObject("objects/\(hex.prefix(2))/\(hex.dropFirst(2))"), Data(oldSummary.utf8))
    }

    func testGCRemovesWhatNoLockNamesAndRemoteGCNeedsForce() throws {
        try reproAndCommit()
        let oldSummary = try workspace.read("data/summary.txt")
        try workspace.write("stages/generate.yaml", "copies: 4\nfiles: 0\n")
        XCTAssertEqual(try pipe(["repro"]).status, 0)
        XCTAssertEqual(try pipe(["push"]).status, 0)
        let hex = sha256Hex(Data(oldSummary.utf8))
        let oldObject = workspace.root.appendingPathComponent(".cache/objects/\(hex.prefix(2))/\(hex.dropFirst(2))")
        XCTAssertTrue(FileManager.default.fileExists(atPath: oldObject.path))

        let keep = try pipe(["gc"])  // the old outputs' run-cache entries still name them
        XCTAssertEqual(keep.status, 0, keep.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: oldObject.path))
        let dry = try pipe(["gc", "--run-cache", "--dry"])
        XCTAssertTrue(dry.stdout.contains("would remove \(hex)"), dry.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: oldObject.path))
        let gc = try pipe(["gc", "--run-cache"])
        XCTAssertEqual(gc.status, 0, gc.stderr)
        XCTAssertTrue(gc.stdout.contains("removed \(hex)"), gc.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: oldObject.path))
        XCTAssertEqual(try pipe(["status", "--check"]).status, 0, "gc kept everything the lock names")

        XCTAssertEqual(try pipe(["gc", "-r", "store"]).status, 2, "a remote gc without --force")
        let before = try remoteKeys().count
        try pushOldObjectDirectly(Data(oldSummary.utf8))
        let remoteGC = try pipe(["gc", "-r", "store", "--force"])
        XCTAssertEqual(remoteGC.status, 0, remoteGC.stderr)
        XCTAssertEqual(try remoteKeys().count, before)
        XCTAssertNil(try remoteObject("objects/\(hex.prefix(2))/\(hex.dropFirst(2))"))
    }

    func testPullNeverOverwritesAnEditThatExistsNowhereElse() throws {
        try reproAndCommit()
        XCTAssertEqual(try pipe(["push"]).status, 0)
        try workspace.write("data/summary.txt", "edited by hand\n")
        let pull = try pipe(["pull"])
        XCTAssertEqual(pull.status, 1, pull.stdout)
        XCTAssertTrue(pull.stderr.contains("data/summary.txt differs from pipeline.lock"), pull.stderr)
        XCTAssertEqual(try workspace.read("data/summary.txt"), "edited by hand\n")
        let forced = try pipe(["pull", "--force"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertEqual(try workspace.read("data/summary.txt"), "3\n")
    }

    func testGCNeverRunsWhileAReproHoldsTheWorkspace() throws {
        try reproAndCommit()
        let slow = "  slow:\n    cmd: touch started && sleep 5 && echo done > slow.txt\n    outs: [slow.txt]\n"
        let pipeline = try workspace.read("pipeline.yaml")
        try workspace.write(
            "pipeline.yaml", pipeline.replacingOccurrences(of: "\nremotes:", with: "\n" + slow + "remotes:"))
        let (repro, out, err) = try workspace.start(["repro", "slow"], environment: environment)
        defer {
            if repro.isRunning { kill(repro.processIdentifier, SIGKILL) }
            _ = out.fileHandleForReading.readDataToEndOfFile()
            _ = err.fileHandleForReading.readDataToEndOfFile()
            repro.waitUntilExit()
        }
        try workspace.waitForFile("started")
        let gc = try pipe(["gc"])
        XCTAssertEqual(gc.status, 1, gc.stdout)
        XCTAssertTrue(gc.stderr.contains("pipe repro"), gc.stderr)
    }

    /// The workspace gets files of its own, whatever the transfer shared: on a directory remote on the same file
    /// system the objects are hard links (the clone's cache, the remote and workspace A's cache share an inode),
    /// and writing a pulled file must still change neither the cache nor the remote.
    func testEditingAPulledFileChangesNeitherTheCacheNorTheRemote() throws {
        try reproAndCommit()
        XCTAssertEqual(try pipe(["push"]).status, 0)
        let clone = try cloneWorkspace()
        XCTAssertEqual(try pipe(["pull"], in: clone).status, 0)
        let original = try clone.read("data/raw/a.txt")
        let hex = sha256Hex(Data(original.utf8))
        let key = "objects/\(hex.prefix(2))/\(hex.dropFirst(2))"
        let cached = clone.root.appendingPathComponent(".cache/" + key).path
        if type(of: self) == RemoteSyncTests.self {
            XCTAssertEqual(inode(cached), inode(remoteDirectory.appendingPathComponent(key).path), "not linked")
        }
        let pulled = clone.root.appendingPathComponent("data/raw/a.txt").path
        XCTAssertNotEqual(inode(pulled), inode(cached))
        try clone.write("data/raw/a.txt", "edited in the clone\n")
        XCTAssertEqual(try remoteObject(key), Data(original.utf8))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: cached)), Data(original.utf8))
        XCTAssertEqual(try workspace.read("data/raw/a.txt"), original)
        // The edit is the clone's own: its status sees it, the cache still holds what the lock names.
        let status = try pipe(["status", "--check"], in: clone)
        XCTAssertEqual(status.status, 1, status.stdout)
        XCTAssertTrue(status.stdout.contains("generate:"), status.stdout)
    }

    private func inode(_ path: String) -> UInt64? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        return (attributes[.systemFileNumber] as? NSNumber)?.uint64Value
    }

    func testAnUnknownRemoteIsABadConfiguration() throws {
        try reproAndCommit()
        let result = try pipe(["push", "-r", "nowhere"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("unknown remote 'nowhere' (known: store)"), result.stderr)
    }

    // MARK: - Helpers

    func makePipeline(in harness: BinaryHarness) throws {
        try harness.write(
            "pipeline.yaml",
            """
            # Two stages: a directory of generated files, then one file summarising it.
            stages:
              generate:
                cmd: >-
                  mkdir -p data/raw/sub data/raw/many && echo alpha > data/raw/a.txt && echo gamma > data/raw/sub/c.txt &&
                  for i in $(seq 1 $(sed -n 's/copies: //p' stages/generate.yaml)); do echo "line $i"; done > data/raw/b.txt &&
                  for i in $(seq 1 $(sed -n 's/files: //p' stages/generate.yaml)); do echo "file $i" > data/raw/many/$i; done
                params: [copies, files]
                outs: [data/raw]
              summarize:
                cmd: cat data/raw/a.txt data/raw/b.txt | wc -l > data/summary.txt
                deps: [data/raw]
                outs: [data/summary.txt]

            """)
        try harness.write("stages/generate.yaml", "copies: 2\nfiles: 0\n")
        try harness.write("stages/summarize.yaml", "{}\n")
        try harness.write(".gitignore", "/data/\n.cache/\nruns/\n")
        try git(["init", "-q"], in: harness.root)
        try git(["config", "user.email", "test@example.com"], in: harness.root)
        try git(["config", "user.name", "Test"], in: harness.root)
        let add = try pipe(["remote", "add", "store"] + remoteArguments() + ["--default"], in: harness)
        XCTAssertEqual(add.status, 0, add.stderr)
    }

    func reproAndCommit() throws {
        let repro = try pipe(["repro"])
        XCTAssertEqual(repro.status, 0, repro.stderr)
        try git(["add", "-A"], in: workspace.root)
        try git(["commit", "-qm", "pipeline"], in: workspace.root)
    }

    func cloneWorkspace() throws -> BinaryHarness {
        let clone = try BinaryHarness()
        try FileManager.default.removeItem(at: clone.root)
        try git(["clone", "-q", workspace.root.path, clone.root.path], in: workspace.root)
        return clone
    }

    func pipe(_ arguments: [String], in harness: BinaryHarness? = nil) throws -> BinaryHarness.Output {
        try (harness ?? workspace).run(arguments, environment: environment)
    }

    func git(_ arguments: [String], in directory: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git"] + arguments
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "git \(arguments.joined(separator: " "))")
    }

    /// Starts `pipe ARGS`, kills it with SIGKILL after `delay` seconds (if still running), and waits.
    func killAfter(_ delay: TimeInterval, _ arguments: [String], in harness: BinaryHarness) throws {
        let (process, out, err) = try harness.start(arguments, environment: environment)
        Thread.sleep(forTimeInterval: delay)
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        _ = out.fileHandleForReading.readDataToEndOfFile()
        _ = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
    }

    /// No temporary file of an interrupted transfer is visible as an object.
    func assertNoTemporaryKeys() throws {
        for key in try remoteKeys() {
            XCTAssertTrue(
                key.range(of: #"^(objects|runs)/[0-9a-f]{2}/[0-9a-f]{62}$"#, options: .regularExpression) != nil, key)
        }
    }

    /// Stores an object on the remote that no lock names, as another workspace's push would.
    func pushOldObjectDirectly(_ data: Data) throws {
        let hex = sha256Hex(data)
        let url = remoteDirectory.appendingPathComponent("objects/\(hex.prefix(2))/\(hex.dropFirst(2))")
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
    }
}

/// SHA-256 through the system's `sha256sum`, so the tests do not share the code under test.
func sha256Hex(_ data: Data) -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["sha256sum"]
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    do { try process.run() } catch { return "" }
    input.fileHandleForWriting.write(data)
    try? input.fileHandleForWriting.close()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return String(text.prefix(64))
}
