import Foundation
import XCTest

@testable import ContentStore

/// A directory's recorded snapshot must never hide a change: every edit, addition, removal, rename or restored stat
/// deep in a large tree gives the digest a manifest built from scratch gives, and an unchanged tree is answered
/// without reading a file.
final class DirectorySnapshotTests: TemporaryFolderTestCase {
    var cacheURL: URL { root.appendingPathComponent(".cache/stat-cache") }

    /// 3 folders of 4 subfolders of 25 files (300 files), names chosen so that byte order and folder order differ.
    private func makeTree() throws {
        for top in ["a", "a-b", "a.b"] {
            for sub in 0..<4 {
                for file in 0..<25 { try write("data/\(top)/s\(sub)/f\(file).txt", "\(top) \(sub) \(file)") }
            }
        }
        try write("data/a.txt", "beside the folder a")
    }

    /// A hasher as a new process gets it: the caches on disk, nothing in memory.
    private func freshHasher() -> ContentHasher { ContentHasher(root: root, statCache: StatCache(loading: cacheURL)) }

    /// The directory's digest computed the plain way: every file listed, read and put in a sorted manifest.
    private func referenceDigest(_ directory: String) throws -> Digest {
        let base = root.appendingPathComponent(directory)
        var entries: [ManifestEntry] = []
        let enumerator = try XCTUnwrap(FileManager.default.enumerator(atPath: base.path))
        while let relative = enumerator.nextObject() as? String {
            let path = base.appendingPathComponent(relative).path
            guard let stat = FileStat.at(path) else { continue }
            switch stat.kind {
            case .file:
                let hash = try FileHashing.hash(path: path)
                entries.append(
                    ManifestEntry(
                        relativePath: relative, digest: hash.digest, size: hash.size,
                        kind: .file(permissions: ManifestEntry.recordedPermissions(stat.permissions))))
            case .symlink:
                let target = try FileManager.default.destinationOfSymbolicLink(atPath: path)
                entries.append(
                    ManifestEntry(
                        relativePath: relative, digest: Digest.of(target), size: Int64(target.utf8.count),
                        kind: .symlink))
            default: continue
            }
        }
        return DirectoryManifest(entries: entries).digest
    }

    private func digest(_ hasher: ContentHasher, _ directory: String = "data") throws -> Digest {
        try XCTUnwrap(try hasher.hash([directory])[directory]).digest
    }

    /// Hashes the tree once its files are old enough to be trusted, so the next look reads nothing.
    private func recordTrusted() throws {
        Thread.sleep(forTimeInterval: 1.05)
        _ = try digest(freshHasher())
        let check = freshHasher()
        _ = try digest(check)
        XCTAssertEqual(check.filesRead, 0, "an unchanged, old enough tree is answered from its snapshot")
    }

    func testTheSnapshotDigestIsTheSortedManifestDigestWithModesAndLinks() throws {
        try makeTree()
        try write("data/run.sh", "#!/bin/sh\n")
        chmod(root.appendingPathComponent("data/run.sh").path, 0o755)
        XCTAssertEqual(symlink("a.txt", root.appendingPathComponent("data/latest").path), 0)
        let hasher = freshHasher()
        let hash = try XCTUnwrap(try hasher.hash(["data"])["data"])
        XCTAssertEqual(hash.digest, try referenceDigest("data"))
        XCTAssertEqual(hash.fileCount, 303)
        let manifest = try hasher.manifest(directory: "data")
        XCTAssertEqual(manifest.digest, hash.digest)
        XCTAssertEqual(manifest, DirectoryManifest(entries: manifest.entries), "entries come in the manifest's order")
        XCTAssertEqual(try digest(ContentHasher(root: root, statCache: StatCache())), hash.digest, "in memory too")
    }

    func testAnEditDeepInTheTreeIsSeenAndOnlyThatFileIsRead() throws {
        try makeTree()
        try recordTrusted()
        try write("data/a.b/s3/f17.txt", "a.b 3 71")  // same size
        let hasher = freshHasher()
        XCTAssertEqual(try digest(hasher), try referenceDigest("data"))
        XCTAssertEqual(hasher.filesRead, 1)
    }

    func testRenamedAddedAndDeletedFilesAreSeen() throws {
        try makeTree()
        try recordTrusted()
        try FileManager.default.moveItem(
            at: root.appendingPathComponent("data/a.b/s0/f9.txt"), to: root.appendingPathComponent("data/a.b/s0/g9.txt")
        )
        let renamed = freshHasher()
        XCTAssertEqual(try digest(renamed), try referenceDigest("data"))
        XCTAssertEqual(renamed.filesRead, 1, "a renamed file is read again: only its name was recorded")
        try write("data/a-b/s2/new.txt", "added")
        XCTAssertEqual(try digest(freshHasher()), try referenceDigest("data"))
        try FileManager.default.removeItem(at: root.appendingPathComponent("data/a/s1/f3.txt"))
        XCTAssertEqual(try digest(freshHasher()), try referenceDigest("data"))
        try FileManager.default.moveItem(
            at: root.appendingPathComponent("data/a/s2"), to: root.appendingPathComponent("data/a-b/s9"))
        XCTAssertEqual(try digest(freshHasher()), try referenceDigest("data"), "a folder moved to another folder")
    }

    func testAFileReplacedByAFolderAndAFolderByAFileAreSeen() throws {
        try makeTree()
        try recordTrusted()
        try FileManager.default.removeItem(at: root.appendingPathComponent("data/a.txt"))
        try write("data/a.txt/inside", "now a folder")
        XCTAssertEqual(try digest(freshHasher()), try referenceDigest("data"))
        try FileManager.default.removeItem(at: root.appendingPathComponent("data/a/s0"))
        try write("data/a/s0", "now a file")
        XCTAssertEqual(try digest(freshHasher()), try referenceDigest("data"))
    }

    func testAChangedFileWhoseSizeAndMtimeAreRestoredIsSeen() throws {
        try makeTree()
        try recordTrusted()
        let path = root.appendingPathComponent("data/a-b/s1/f12.txt").path
        let before = try XCTUnwrap(FileStat.at(path))
        try write("data/a-b/s1/f12.txt", "a-b 1 21")  // same size
        var times = [
            timespec(
                tv_sec: Int(before.mtimeNanoseconds / 1_000_000_000),
                tv_nsec: Int(before.mtimeNanoseconds % 1_000_000_000)),
            timespec(
                tv_sec: Int(before.mtimeNanoseconds / 1_000_000_000),
                tv_nsec: Int(before.mtimeNanoseconds % 1_000_000_000)),
        ]
        XCTAssertEqual(utimensat(AT_FDCWD, path, &times, 0), 0)
        XCTAssertEqual(FileStat.at(path)?.mtimeNanoseconds, before.mtimeNanoseconds)
        XCTAssertEqual(FileStat.at(path)?.size, before.size)
        let hasher = freshHasher()
        XCTAssertEqual(try digest(hasher), try referenceDigest("data"), "the ctime still moved")
        XCTAssertEqual(hasher.filesRead, 1)
    }

    func testAFileHashedWithinTheRacyWindowIsReadAgainUntilItsEntryIsOldEnough() throws {
        try makeTree()
        try recordTrusted()
        // Rewritten and hashed at once: a second rewrite in the same timestamp tick would keep every stat fact.
        try write("data/a/s0/f0.txt", "a 0 0 again")
        _ = try digest(freshHasher())
        let second = freshHasher()
        XCTAssertEqual(try digest(second), try referenceDigest("data"))
        XCTAssertEqual(second.filesRead, 1, "an entry recorded right after the file changed is not trusted")
        Thread.sleep(forTimeInterval: 1.05)
        _ = try digest(freshHasher())  // read once more, now long enough after the change
        let trusted = freshHasher()
        _ = try digest(trusted)
        XCTAssertEqual(trusted.filesRead, 0)
    }

    func testSameSizeEditsInOneSecondAreAllSeen() throws {
        try makeTree()
        for round in 0..<5 {
            try write("data/a/s1/f1.txt", "round \(round)")
            XCTAssertEqual(try digest(freshHasher()), try referenceDigest("data"), "round \(round)")
        }
    }

    func testTheStatCacheDropsTheFilesOfADirectoryWithASnapshot() throws {
        try makeTree()
        try write("other.txt", "a file dependency")
        let cache = StatCache(loading: cacheURL)
        for path in ["data/a.txt", "other.txt"] {
            let stat = try XCTUnwrap(FileStat.at(root.appendingPathComponent(path).path))
            cache.record(
                path: path, stat: stat,
                digest: try FileHashing.hash(path: root.appendingPathComponent(path).path).digest)
        }
        try cache.save()
        let hasher = ContentHasher(root: root, statCache: StatCache(loading: cacheURL))
        XCTAssertEqual(try hasher.hash(["data", "other.txt"])["data"]?.digest, try referenceDigest("data"))
        try hasher.statCache.save()
        let saved = try String(contentsOf: cacheURL, encoding: .utf8)
        XCTAssertTrue(saved.contains(" other.txt\n"))
        XCTAssertFalse(saved.contains(" data/"), "the directory's snapshot holds its files' facts")
    }

    func testACorruptSnapshotFileIsRebuilt() throws {
        try makeTree()
        let expected = try digest(freshHasher())
        let folder = root.appendingPathComponent(".cache/tree-cache")
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            let url = folder.appendingPathComponent(name)
            var bytes = try Data(contentsOf: url)
            bytes.removeLast(5)
            try bytes.write(to: url)
        }
        XCTAssertEqual(try digest(freshHasher()), expected)
    }

    func testAFileNamedWithANewlineInsideADirectoryIsRefusedByName() throws {
        try write("data/bad\nname", "x")
        XCTAssertThrowsError(try freshHasher().hash(["data"])) { error in
            XCTAssertEqual(error as? ContentStoreError, .unsupportedName(path: "data/bad\nname"))
        }
    }
}
