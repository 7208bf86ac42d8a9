import ContentStore
import Foundation
import RemoteStorage
import XCTest

/// A directory remote on the cache's file system shares read-only objects by hard link, both ways, and copies
/// whatever it must not share.
final class DirectoryRemoteLinkTests: XCTestCase {
    var root: URL!
    var remote: DirectoryRemote!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-link-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("remote"), withIntermediateDirectories: true)
        remote = try DirectoryRemote(root: root.appendingPathComponent("remote"), location: "team")
    }

    override func tearDownWithError() throws {
        remote = nil
        try? FileManager.default.removeItem(at: root)
    }

    /// A file with `text` and `mode` under the scratch folder; its path and digest.
    private func object(_ name: String, _ text: String, mode: mode_t) throws -> (path: String, digest: Digest) {
        let path = root.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, mode)
        return (path, Digest.of(Data(text.utf8)))
    }

    private func inode(_ path: String) -> UInt64? { FileStat.at(path)?.inode }

    private func remotePath(_ digest: Digest) -> String {
        root.appendingPathComponent("remote").path + "/" + RemoteKey.object(digest)
    }

    /// A file written straight under the remote key of `digest`, as another tool (or a tamperer) would.
    private func plantOnRemote(_ digest: Digest, _ text: String, mode: mode_t) throws {
        let folder = URL(fileURLWithPath: remotePath(digest)).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: remotePath(digest)))
        chmod(remotePath(digest), mode)
    }

    func testPushHardLinksAReadOnlyObject() throws {
        let local = try object("a", "shared bytes\n", mode: 0o444)
        try remote.put(RemoteKey.object(local.digest), file: local.path, size: 13, sha256: local.digest, onBytes: nil)
        try remote.commit()
        XCTAssertEqual(inode(remotePath(local.digest)), inode(local.path))
        XCTAssertEqual(hardLinkCount(local.path), 2)
    }

    func testPushCopiesAPrivateObjectInsteadOfLinkingIt() throws {
        let local = try object("a", "private bytes\n", mode: 0o400)
        try remote.put(RemoteKey.object(local.digest), file: local.path, size: 14, sha256: local.digest, onBytes: nil)
        try remote.commit()
        XCTAssertNotNil(inode(remotePath(local.digest)))
        XCTAssertNotEqual(inode(remotePath(local.digest)), inode(local.path))
        XCTAssertEqual(hardLinkCount(local.path), 1)
    }

    func testPushRefusesToLinkAnObjectThatNoLongerHashesToItsKey() throws {
        let local = try object("a", "changed\n", mode: 0o444)
        let claimed = Digest.of(Data("original\n".utf8))
        XCTAssertThrowsError(
            try remote.put(RemoteKey.object(claimed), file: local.path, size: 8, sha256: claimed, onBytes: nil)
        ) { error in
            XCTAssertTrue("\(error)".contains("expected \(claimed.hex)"), "\(error)")
        }
        XCTAssertNil(FileStat.at(remotePath(claimed)))
    }

    func testFetchLinksAVerifiedObject() throws {
        let local = try object("a", "from the team\n", mode: 0o444)
        try remote.put(RemoteKey.object(local.digest), file: local.path, size: 14, sha256: local.digest, onBytes: nil)
        let destination = root.appendingPathComponent("cache-object").path
        let outcome = try remote.link(RemoteKey.object(local.digest), to: destination, digest: local.digest)
        XCTAssertEqual(outcome, .linked(size: 14))
        XCTAssertEqual(inode(destination), inode(remotePath(local.digest)))
    }

    func testFetchRefusesToLinkACorruptObject() throws {
        let claimed = Digest.of(Data("original\n".utf8))
        try plantOnRemote(claimed, "tampered\n", mode: 0o444)
        let destination = root.appendingPathComponent("cache-object").path
        XCTAssertThrowsError(try remote.link(RemoteKey.object(claimed), to: destination, digest: claimed)) { error in
            XCTAssertTrue("\(error)".contains("corrupt"), "\(error)")
        }
        XCTAssertNil(FileStat.at(destination))
    }

    func testFetchCopiesAWritableRemoteFileInsteadOfLinkingIt() throws {
        let claimed = Digest.of(Data("writable\n".utf8))
        try plantOnRemote(claimed, "writable\n", mode: 0o644)
        let destination = root.appendingPathComponent("cache-object").path
        XCTAssertEqual(try remote.link(RemoteKey.object(claimed), to: destination, digest: claimed), .unsupported)
        XCTAssertNil(FileStat.at(destination))
    }

    func testFetchOfAnAbsentKeyIsAbsent() throws {
        let claimed = Digest.of(Data("nowhere\n".utf8))
        let destination = root.appendingPathComponent("cache-object").path
        XCTAssertEqual(try remote.link(RemoteKey.object(claimed), to: destination, digest: claimed), .absent)
    }

    func testAPrivateCopyOfSharedContentLeavesTheRemoteObjectReadable() throws {
        let store = ObjectStore(cacheDirectory: root.appendingPathComponent("cache"))
        let public_ = try object("public.txt", "same bytes\n", mode: 0o644)
        try store.commitFile(at: public_.path, digest: public_.digest)
        let cached = store.objectURL(public_.digest).path
        try remote.put(RemoteKey.object(public_.digest), file: cached, size: 11, sha256: public_.digest, onBytes: nil)
        XCTAssertEqual(inode(remotePath(public_.digest)), inode(cached))

        let secret = try object("secret.txt", "same bytes\n", mode: 0o600)
        try store.commitFile(at: secret.path, digest: secret.digest, permissions: 0o600)
        XCTAssertEqual(FileStat.at(cached)?.permissions, 0o400)
        XCTAssertEqual(FileStat.at(remotePath(public_.digest))?.permissions, 0o444)
        XCTAssertNotEqual(inode(remotePath(public_.digest)), inode(cached))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: cached)), Data("same bytes\n".utf8))
    }
}
