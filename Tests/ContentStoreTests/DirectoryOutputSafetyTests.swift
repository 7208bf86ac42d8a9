import Foundation
import XCTest

@testable import ContentStore

/// Issue 20, item 5: symlinks inside a directory output are
/// recorded as links and never followed, links out of the workspace are refused, and file modes survive a
/// restore without ever being widened.
final class DirectoryOutputSafetyTests: XCTestCase {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-dos-\(UUID().uuidString)")
    var store: ObjectStore { ObjectStore(cacheDirectory: root.appendingPathComponent(".cache")) }
    var hasher: ContentHasher { ContentHasher(root: root, statCache: StatCache()) }

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        // Private objects are 0400 and their directories ordinary: removable by the owner.
        try? FileManager.default.removeItem(at: root)
    }

    private func write(_ path: String, _ text: String, permissions: mode_t? = nil) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        if let permissions { chmod(url.path, permissions) }
    }

    private func link(_ path: String, to target: String) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: url.path, withDestinationPath: target)
    }

    private func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    private func linkTarget(_ relative: String) throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: path(relative))
    }

    /// Hashes, commits and restores the directory `out` to `restored-MODE` by every link mode.
    private func roundTrip(_ directory: String = "out") throws -> [LinkMode: String] {
        let hash = try XCTUnwrap(try hasher.hash([directory])[directory])
        try store.commitDirectory(at: path(directory), manifest: try hasher.manifest(directory: directory))
        var restored: [LinkMode: String] = [:]
        for mode in LinkMode.allCases {
            let target = "restored-\(mode.rawValue)"
            try store.checkout(hash.digest, isDirectory: true, to: path(target), mode: mode)
            XCTAssertEqual(try hasher.hash([target])[target]?.digest, hash.digest, "\(mode) restores the same hash")
            restored[mode] = target
        }
        return restored
    }

    func testItem5_ASymlinkToEtcInADirectoryOutputIsRefusedAndNothingIsCopied() throws {
        try write("out/data.txt", "data")
        try link("out/etc", to: "/etc")
        XCTAssertThrowsError(try hasher.hash(["out"])) { error in
            XCTAssertEqual(error as? ContentStoreError, .symlinkOutsideWorkspace(path: "out/etc", target: "/etc"))
            XCTAssertTrue("\(error)".hasPrefix("out/etc: a symlink to '/etc', outside the workspace"), "\(error)")
        }
        XCTAssertThrowsError(try hasher.manifest(directory: "out"))
        XCTAssertNil(FileStat.at(store.objectsDirectory.path), "nothing entered the cache")
    }

    func testItem5_ASymlinkToProcSelfRootIsRefusedWithoutHanging() throws {
        try link("out/root", to: "/proc/self/root")
        let start = Date()
        XCTAssertThrowsError(try hasher.hash(["out"])) { error in
            XCTAssertEqual(
                error as? ContentStoreError, .symlinkOutsideWorkspace(path: "out/root", target: "/proc/self/root"))
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
    }

    func testItem5_ARelativeSymlinkClimbingOutOfTheWorkspaceIsRefused() throws {
        try link("out/sub/escape", to: "../../../outside")
        XCTAssertThrowsError(try hasher.hash(["out"])) { error in
            XCTAssertEqual(
                error as? ContentStoreError,
                .symlinkOutsideWorkspace(path: "out/sub/escape", target: "../../../outside"))
        }
    }

    func testItem5_AnOutputThatIsItselfASymlinkOutOfTheWorkspaceIsRefused() throws {
        try link("out", to: "/etc")
        XCTAssertThrowsError(try hasher.hash(["out"])) { error in
            guard case .symlinkOutsideWorkspace("out", _)? = error as? ContentStoreError else {
                return XCTFail("\(error)")
            }
        }
    }

    func testItem5_ASymlinkInsideTheWorkspaceIsStoredAndRestoredAsALink() throws {
        try write("out/data.txt", "data")
        try write("elsewhere/big.bin", String(repeating: "x", count: 10_000))
        try link("out/latest", to: "data.txt")
        try link("out/shared", to: "../elsewhere")
        let manifest = try hasher.manifest(directory: "out")
        XCTAssertEqual(
            manifest.entries.map(\.relativePath), ["data.txt", "latest", "shared"], "the link is not followed")
        XCTAssertEqual(manifest.entries.map(\.kind), [.file(permissions: 0o644), .symlink, .symlink])
        XCTAssertEqual(manifest.entries[2].digest, Digest.of("../elsewhere"))
        XCTAssertTrue(
            String(decoding: manifest.bytes, as: UTF8.self).contains("120000 \(Digest.of("data.txt").hex) 8 latest\n"))
        for (mode, restored) in try roundTrip() {
            XCTAssertEqual(FileStat.at(path(restored + "/latest"))?.kind, .symlink, "\(mode)")
            XCTAssertEqual(try linkTarget(restored + "/latest"), "data.txt", "\(mode)")
            XCTAssertEqual(try linkTarget(restored + "/shared"), "../elsewhere", "\(mode)")
        }
    }

    func testItem5_ADanglingSymlinkInsideTheWorkspaceIsStoredAsALink() throws {
        try link("out/next", to: "not-yet-written.txt")
        for (_, restored) in try roundTrip() {
            XCTAssertEqual(try linkTarget(restored + "/next"), "not-yet-written.txt")
        }
    }

    func testItem5_TheExecutableBitSurvivesARestore() throws {
        try write("out/run.sh", "#!/bin/sh\necho hi\n", permissions: 0o755)
        XCTAssertEqual(try hasher.manifest(directory: "out").entries.first?.kind, .file(permissions: 0o755))
        for (mode, restored) in try roundTrip() {
            XCTAssertEqual(FileStat.at(path(restored + "/run.sh"))?.permissions, 0o755, "\(mode)")
        }
    }

    func testItem5_APrivateFileIsNeverWidenedInTheCacheOrOnRestore() throws {
        try write("out/key", "secret", permissions: 0o600)
        try write("out/public.txt", "hello")
        let restored = try roundTrip()
        for (mode, directory) in restored {
            XCTAssertEqual(FileStat.at(path(directory + "/key"))?.permissions, 0o600, "\(mode)")
        }
        XCTAssertEqual(FileStat.at(store.objectURL(Digest.of("secret")).path)?.permissions, 0o400)
        XCTAssertEqual(FileStat.at(store.objectURL(Digest.of("hello")).path)?.permissions, 0o444)
    }

    func testItem5_AnObjectSharedWithAPrivateFileIsNarrowed() throws {
        try write("out/public.txt", "same bytes")
        _ = try roundTrip()
        XCTAssertEqual(FileStat.at(store.objectURL(Digest.of("same bytes")).path)?.permissions, 0o444)
        try write("private/copy.txt", "same bytes", permissions: 0o600)
        _ = try roundTrip("private")
        XCTAssertEqual(FileStat.at(store.objectURL(Digest.of("same bytes")).path)?.permissions, 0o400)
    }

    func testItem5_GroupWriteBitsFromTheUmaskDoNotChangeTheHash() throws {
        try write("a/f.txt", "same", permissions: 0o644)
        try write("b/f.txt", "same", permissions: 0o664)
        let hashes = try hasher.hash(["a", "b"])
        XCTAssertEqual(hashes["a"]?.digest, hashes["b"]?.digest)
    }

    func testItem5_ADirectoryOfOrdinaryFilesKeepsTheHashOfTheOriginalManifestFormat() throws {
        try write("out/a.txt", "a")
        try write("out/b/c.txt", "c")
        let original = "\(Digest.of("a").hex) 1 a.txt\n\(Digest.of("c").hex) 1 b/c.txt\n"
        XCTAssertEqual(try hasher.hash(["out"])["out"]?.digest, Digest.of(original))
    }

    func testItem5_AManifestInTheOriginalFormatStillRestores() throws {
        try write("src/a.txt", "a")
        try store.commitFile(at: path("src/a.txt"), digest: Digest.of("a"))
        let digest = try store.store(Data("\(Digest.of("a").hex) 1 dir/a.txt\n".utf8))
        try store.checkout(digest, isDirectory: true, to: path("restored"), mode: .copy)
        XCTAssertEqual(try String(contentsOfFile: path("restored/dir/a.txt"), encoding: .utf8), "a")
        XCTAssertEqual(FileStat.at(path("restored/dir/a.txt"))?.permissions, 0o644)
    }

    func testItem5_AManifestWithAnEntryInsideAnotherIsRejected() {
        let hex = Digest.of("x").hex
        let text = "120000 \(hex) 1 a\n\(hex) 1 a/b\n"
        XCTAssertThrowsError(try DirectoryManifest.parse(Data(text.utf8), path: "m")) { error in
            XCTAssertEqual(
                error as? ContentStoreError,
                .malformedManifest(path: "m", line: 2, reason: "'a/b' lies inside another entry"))
        }
    }

    func testItem5_AManifestWithAnUnknownModeIsRejected() {
        for mode in ["100777", "100644", "040000", "1x0755"] {
            let text = "\(mode) \(Digest.of("x").hex) 1 a\n"
            XCTAssertThrowsError(try DirectoryManifest.parse(Data(text.utf8), path: "m"), mode)
        }
    }

    func testItem5_AFileThatBecameASymlinkAfterListingIsNotCommittedThroughIt() throws {
        try write("out/f.txt", "x")
        let manifest = try hasher.manifest(directory: "out")
        try FileManager.default.removeItem(atPath: path("out/f.txt"))
        try write("secret.txt", "x")
        try link("out/f.txt", to: path("secret.txt"))
        XCTAssertThrowsError(try store.commitDirectory(at: path("out"), manifest: manifest))
    }
}
