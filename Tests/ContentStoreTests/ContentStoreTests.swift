import Foundation
import XCTest

@testable import ContentStore

final class ContentStoreTests: TemporaryFolderTestCase {

    func testSHA256MatchesTheStandardVectors() throws {
        XCTAssertEqual(Digest.of("").hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(Digest.of("abc").hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // Streaming across the 1 MiB read size gives the same digest as one update.
        let big = Data((0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try big.write(to: root.appendingPathComponent("big"))
        let streamed = try FileHashing.hash(path: root.appendingPathComponent("big").path)
        XCTAssertEqual(streamed.digest, Digest.of(big))
        XCTAssertEqual(streamed.size, Int64(big.count))
    }

    func testAHasherStartsOverAfterEachFinish() {
        let hasher = SHA256Hasher()
        hasher.update(Data("ab".utf8))
        hasher.update(Data("c".utf8))
        XCTAssertEqual(hasher.finish(), Digest.of("abc"))
        XCTAssertEqual(hasher.finish(), Digest.of(""), "a second finish hashes nothing")
        hasher.update(Data("abc".utf8))
        XCTAssertEqual(hasher.finish(), Digest.of("abc"))
    }

    func testAReadErrorWhileHashingNamesTheFile() throws {
        // read() of a directory fails after open() succeeded: the hasher is dropped unfinished.
        let directory = root.appendingPathComponent("folder")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        XCTAssertThrowsError(try FileHashing.hash(path: directory.path)) { error in
            guard case ContentStoreError.cannotRead(let path, _) = error else {
                return XCTFail("expected cannotRead, got \(error)")
            }
            XCTAssertEqual(path, directory.path)
        }
    }

    func testDigestRejectsMalformedHex() {
        XCTAssertNil(Digest(hex: "abc"))
        XCTAssertNil(Digest(hex: String(repeating: "G", count: 64)))
        XCTAssertNotNil(Digest(hex: String(repeating: "a", count: 64)))
    }

    func testADirectoryHashIsItsSortedManifestsHash() throws {
        try write("d/b.txt", "b")
        try write("d/a/z.txt", "z")
        let hasher = ContentHasher(root: root, statCache: StatCache())
        let hash = try XCTUnwrap(try hasher.hash(["d"])["d"])
        let manifest = try hasher.manifest(directory: "d")
        XCTAssertEqual(manifest.entries.map(\.relativePath), ["a/z.txt", "b.txt"])
        XCTAssertEqual(hash.digest, manifest.digest)
        XCTAssertEqual(hash.fileCount, 2)
        XCTAssertEqual(try DirectoryManifest.parse(manifest.bytes, path: "m"), manifest)
        try write("d/b.txt", "B")
        XCTAssertNotEqual(try hasher.hash(["d"])["d"]?.digest, hash.digest)
    }

    func testAManifestClimbingOutOfItsDirectoryIsRejected() {
        let line = String(repeating: "a", count: 64) + " 1 ../escape\n"
        XCTAssertThrowsError(try DirectoryManifest.parse(Data(line.utf8), path: "m")) { error in
            XCTAssertEqual(
                error as? ContentStoreError,
                .malformedManifest(path: "m", line: 1, reason: "expected '[mode] sha256 size path'"))
        }
    }

    func testTheStatCacheAnswersOnlyForUnchangedOldEnoughFiles() throws {
        try write("f.txt", "one")
        let cacheURL = root.appendingPathComponent("stat-cache")
        let path = root.appendingPathComponent("f.txt").path
        let stat = try XCTUnwrap(FileStat.at(path))
        let cache = StatCache(loading: cacheURL)
        cache.record(path: "f.txt", stat: stat, digest: Digest.of("one"))
        XCTAssertNil(cache.lookup(path: "f.txt", stat: stat), "a just-written file is racy: hashed again")

        // Age the file: set its mtime two seconds back, then record again.
        var times = [timespec(tv_sec: time(nil) - 2, tv_nsec: 0), timespec(tv_sec: time(nil) - 2, tv_nsec: 0)]
        XCTAssertEqual(utimensat(AT_FDCWD, path, &times, 0), 0)
        // ctime moves with utimensat, so wait out the racy window against ctime too.
        let aged = try XCTUnwrap(FileStat.at(path))
        cache.record(path: "f.txt", stat: aged, digest: Digest.of("one"))
        XCTAssertNil(cache.lookup(path: "f.txt", stat: aged))
        Thread.sleep(forTimeInterval: 1.05)
        cache.record(path: "f.txt", stat: aged, digest: Digest.of("one"))
        XCTAssertEqual(cache.lookup(path: "f.txt", stat: aged), Digest.of("one"))
        try cache.save()
        XCTAssertEqual(StatCache(loading: cacheURL).lookup(path: "f.txt", stat: aged), Digest.of("one"))

        try write("f.txt", "two")  // same size
        let rewritten = try XCTUnwrap(FileStat.at(path))
        XCTAssertNil(cache.lookup(path: "f.txt", stat: rewritten))
    }

    func testACorruptStatCacheFileIsIgnored() throws {
        try write("stat-cache", "pipe-stat-cache 1\nnot a line\n\u{0}\u{1}")
        let cache = StatCache(loading: root.appendingPathComponent("stat-cache"))
        XCTAssertEqual(cache.misses, 0)
    }

    func testObjectsRoundTripByCopyHardlinkAndReflink() throws {
        try write("data/file.txt", "payload")
        let store = ObjectStore(cacheDirectory: root.appendingPathComponent(".cache"))
        let digest = Digest.of("payload")
        try store.commitFile(at: root.appendingPathComponent("data/file.txt").path, digest: digest)
        XCTAssertTrue(store.contains(digest))
        XCTAssertEqual(
            store.objectURL(digest).path.hasSuffix("objects/" + digest.hex.prefix(2) + "/" + digest.hex.dropFirst(2)),
            true)
        for mode in LinkMode.allCases {
            let target = root.appendingPathComponent("restored-\(mode.rawValue).txt").path
            try store.checkout(digest, isDirectory: false, to: target, mode: mode)
            XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "payload", mode.rawValue)
        }
        let linked = try XCTUnwrap(FileStat.at(root.appendingPathComponent("restored-hardlink.txt").path))
        XCTAssertEqual(linked.inode, FileStat.at(store.objectURL(digest).path)?.inode)
    }

    func testCommittingAFileThatChangedSinceHashingFails() throws {
        try write("f.txt", "now")
        let store = ObjectStore(cacheDirectory: root.appendingPathComponent(".cache"))
        XCTAssertThrowsError(
            try store.commitFile(at: root.appendingPathComponent("f.txt").path, digest: Digest.of("then")))
        XCTAssertFalse(store.contains(Digest.of("then")))
        XCTAssertFalse(store.contains(Digest.of("now")))
    }

    func testACorruptObjectIsQuarantinedNotRestored() throws {
        try write("f.txt", "good")
        let store = ObjectStore(cacheDirectory: root.appendingPathComponent(".cache"))
        let digest = Digest.of("good")
        try store.commitFile(at: root.appendingPathComponent("f.txt").path, digest: digest)
        chmod(store.objectURL(digest).path, 0o644)
        try Data("evil".utf8).write(to: store.objectURL(digest))
        let target = root.appendingPathComponent("out.txt").path
        XCTAssertThrowsError(try store.checkout(digest, isDirectory: false, to: target, mode: .copy)) { error in
            guard case .corruptObject? = error as? ContentStoreError else { return XCTFail("\(error)") }
        }
        XCTAssertNil(FileStat.at(target))
        XCTAssertFalse(store.contains(digest))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: store.quarantineDirectory.path).count, 1)
    }

    func testTheRunCacheRoundTripsAndRejectsGarbage() throws {
        let cache = RunCache(cacheDirectory: root)
        let signature = Digest.of("sig")
        XCTAssertNil(try cache.lookup(signature: signature))
        let outputs = [
            CachedOutput(path: "model", digest: Digest.of("m"), isDirectory: true),
            CachedOutput(path: "a b.txt", digest: Digest.of("a"), isDirectory: false),
        ]
        try cache.record(signature: signature, outputs: outputs)
        XCTAssertEqual(try cache.lookup(signature: signature), outputs.sorted { $0.path < $1.path })
        try Data("garbage".utf8).write(to: cache.entryURL(signature))
        XCTAssertThrowsError(try cache.lookup(signature: signature))
    }

    func testAtomicWriteLeavesNoTemporaryFiles() throws {
        let url = root.appendingPathComponent("sub/file.txt")
        try AtomicFile.write(Data("x".utf8), to: url)
        try AtomicFile.write(Data("y".utf8), to: url)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "y")
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path), ["file.txt"])
    }

    func testItem10_AFailedRenameLeavesNoTemporaryFile() throws {
        try write("target/inside.txt", "a non-empty directory where the file should go")
        XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: root.appendingPathComponent("target")))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.path), ["target"])
    }

    func testItem10_StaleTemporariesOfAFileAreRemovedAndNothingElse() throws {
        try write(".pipeline.lock.tmp-123-456", "half a lock")
        try write("pipeline.lock", "schema: 1\n")
        try write(".other.tmp-1-2", "someone else's")
        AtomicFile.removeStaleTemporaries(of: root.appendingPathComponent("pipeline.lock"))
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: root.path).sorted(),
            [".other.tmp-1-2", "pipeline.lock"])
    }

    func testAFileHashedWhileWrittenIsNotReadAgainUntilItChanges() throws {
        let url = root.appendingPathComponent("out/data.bin")
        let (digest, stat) = try AtomicFile.writeHashing(to: url, durable: false) { sink in
            for piece in ["first ", "second ", "third"] {
                try Data(piece.utf8).withUnsafeBytes { try sink.write($0) }
            }
        }
        XCTAssertEqual(digest, Digest.of("first second third"))
        XCTAssertEqual(stat, FileStat.at(url.path))

        let hasher = ContentHasher(root: root, statCache: StatCache())
        hasher.remember(path: "out/data.bin", stat: stat, digest: digest)
        XCTAssertEqual(try hasher.hash(["out/data.bin"])["out/data.bin"]?.digest, digest)
        let manifest = try hasher.manifest(directory: "out")
        XCTAssertEqual(manifest.entries.map(\.digest), [digest])
        XCTAssertEqual(hasher.filesRead, 0, "a just-written file is trusted while its stat is unchanged")

        try write("out/data.bin", "changed bytes, another size")
        XCTAssertEqual(
            try hasher.hash(["out/data.bin"])["out/data.bin"]?.digest, Digest.of("changed bytes, another size"))
        XCTAssertEqual(hasher.filesRead, 1)
        // Hashed once now, a second look (the manifest after the lock's hash) does not read it again.
        _ = try hasher.manifest(directory: "out")
        XCTAssertEqual(hasher.filesRead, 1)
    }

    func testStrayTemporaryNamesAreExactlyTheOnesPipeMakes() {
        for name in [
            ".pipeline.lock.tmp-4242-99", ".o.pipe-tmp-1-2", ".model.onnx.pipe-old-77-1234567890", ".a.tmp-1-2",
        ] {
            XCTAssertTrue(StrayTemporaries.isTemporaryName(name), name)
        }
        for name in ["pipeline.lock.tmp-1-2", ".notes.tmp-kept", ".x.tmp-1", ".x.tmp-1-2-3", ".tmp-1-2", ".x.tmp--2"] {
            XCTAssertFalse(StrayTemporaries.isTemporaryName(name), name)
        }
    }
}

extension ContentStoreTests {
    /// Objects named `ab…` planted straight into the store's folder (a listing reads names, not content).
    private func plant(_ store: ObjectStore, _ digests: [Digest]) throws {
        for digest in digests {
            let url = store.objectURL(digest)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data().write(to: url)
        }
    }

    private func digests(prefix: String, count: Int) -> [Digest] {
        (0..<count).compactMap { Digest(hex: prefix + String(format: "%062x", $0 + 1)) }
    }

    func testMissingFromAFolderAskedAboutManyTimesReadsTheFolder() throws {
        let store = ObjectStore(cacheDirectory: root.appendingPathComponent("cache"))
        let asked = digests(prefix: "ab", count: 12)
        try plant(store, Array(asked[0..<6]))
        // A folder where an object should be is not an object.
        try FileManager.default.createDirectory(at: store.objectURL(asked[6]), withIntermediateDirectories: true)
        XCTAssertEqual(store.missing(from: asked), Array(asked[6...]))
        XCTAssertFalse(store.containsAll(asked))
        XCTAssertTrue(store.containsAll(asked[0..<6]))
    }

    func testMissingFromAFewObjectsStatsEach() throws {
        let store = ObjectStore(cacheDirectory: root.appendingPathComponent("cache"))
        let asked = digests(prefix: "cd", count: 3) + digests(prefix: "ef", count: 2)
        try plant(store, [asked[0], asked[3]])
        XCTAssertEqual(store.missing(from: asked), [asked[1], asked[2], asked[4]])
        XCTAssertTrue(store.containsAll([Digest]()))
    }
}
