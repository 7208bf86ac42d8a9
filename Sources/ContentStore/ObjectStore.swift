import Foundation
import Parallel

#if canImport(Glibc)
import Glibc
#endif

/// How an output is put back into the workspace from the object store.
public enum LinkMode: String, Sendable, CaseIterable {
    /// A copy-on-write clone where the filesystem supports it, else a plain copy.
    case reflink
    case copy
    /// A hard link to the (read-only) object: instant, but the workspace file is read-only too.
    case hardlink
}

/// A file under `.cache/objects/` that is not a sound object: its bytes hash to `actual` instead of `digest` (nil
/// when unreadable), or its name is no digest at all (`digest` nil).
public struct DamagedObject: Equatable, Sendable {
    public var path: String
    public var digest: Digest?
    public var actual: Digest?
}

/// The content-addressed store: `.cache/objects/ab/cdef…`, one read-only file per SHA-256.
///
/// Objects are written to `.cache/tmp/`, hashed while written, flushed and only then renamed into place,
/// so an object file that exists is complete. Reading one back for a restore re-checks its hash.
public final class ObjectStore: @unchecked Sendable {
    public let cacheDirectory: URL
    public let objectsDirectory: URL
    public let temporaryDirectory: URL
    public let quarantineDirectory: URL
    /// Store folders (`tmp/`, `objects/ab/`) this process has made or seen, so that storing thousands of objects
    /// does not ask the file system for its folder each time. `removeTemporaryFiles` forgets `tmp/`.
    private var knownFolders = Set<String>()
    private let knownFoldersLock = NSLock()

    public init(cacheDirectory: URL) {
        self.cacheDirectory = cacheDirectory
        objectsDirectory = cacheDirectory.appendingPathComponent("objects")
        temporaryDirectory = cacheDirectory.appendingPathComponent("tmp")
        quarantineDirectory = cacheDirectory.appendingPathComponent("quarantine")
    }

    public func objectURL(_ digest: Digest) -> URL {
        let hex = digest.hex
        // `isDirectory:` given, so that Foundation does not stat the path to decide (two stats an object).
        return objectsDirectory.appendingPathComponent(String(hex.prefix(2)), isDirectory: true)
            .appendingPathComponent(String(hex.dropFirst(2)), isDirectory: false)
    }

    public func contains(_ digest: Digest) -> Bool { FileStat.at(objectURL(digest).path)?.kind == .file }

    /// Whether the store holds every one of `digests` (see `missing(from:)`).
    public func containsAll<Digests: Collection>(_ digests: Digests) -> Bool where Digests.Element == Digest {
        missing(from: digests).isEmpty
    }

    /// Those of `digests` that the store lacks, in their order. A folder (`objects/ab/`) asked about many times is
    /// read once instead of stat'ing each object: a directory output of 5,000 files is checked by every status,
    /// push and pull, and one listing of the 256 folders costs about a tenth of 5,000 stats.
    public func missing<Digests: Collection>(from digests: Digests) -> [Digest] where Digests.Element == Digest {
        var byFolder: [Substring: Int] = [:]
        for digest in digests { byFolder[digest.hex.prefix(2), default: 0] += 1 }
        var listings: [Substring: Set<String>] = [:]
        for (folder, count) in byFolder where count >= Self.listingThreshold {
            listings[folder] = regularFileNames(in: objectsDirectory.path + "/" + folder) ?? []
        }
        return digests.filter { digest in
            guard let names = listings[digest.hex.prefix(2)] else { return !contains(digest) }
            return !names.contains(String(digest.hex.dropFirst(2)))
        }
    }

    /// How many objects of one folder make reading the folder cheaper than a stat each.
    static let listingThreshold = 8

    /// Removes temporary files left by an interrupted process. Call only while holding the workspace lock.
    public func removeTemporaryFiles() {
        knownFoldersLock.lock()
        knownFolders.remove(temporaryDirectory.path)
        knownFoldersLock.unlock()
        try? FileManager.default.removeItem(at: temporaryDirectory)
    }

    /// Stores bytes (a manifest, a small metrics file) and returns their digest.
    @discardableResult
    public func store(_ data: Data) throws -> Digest {
        let digest = Digest.of(data)
        guard !contains(digest) else { return digest }
        let temporary = try makeTemporaryURL()
        try AtomicFile.write(data, to: temporary)
        try moveIntoStore(temporary, digest: digest, mode: 0o444)
        return digest
    }

    /// Copies the file at `path` into the store, checking while copying that it still hashes to `digest`.
    ///
    /// An object is readable by the classes that could read the file (0444 for an ordinary file, 0400 for a 0600
    /// one): the cache never widens who may read content. Content shared by a private and a public file is kept
    /// at the narrower mode. `followingSymlinks: false` refuses a path that became a symlink since it was listed.
    public func commitFile(
        at path: String, digest: Digest, permissions: UInt16 = ManifestEntry.defaultPermissions,
        followingSymlinks: Bool = true
    ) throws {
        let objectMode = mode_t(permissions & 0o444)
        if let existing = FileStat.at(objectURL(digest).path), existing.kind == .file {
            let narrower = mode_t(existing.permissions) & objectMode
            if narrower != mode_t(existing.permissions) { try narrow(digest, to: narrower) }
            return
        }
        let temporary = try makeTemporaryURL()
        let actual: Digest
        do {
            actual = try copyHashing(from: path, to: temporary.path, followingSymlinks: followingSymlinks)
        } catch {
            unlink(temporary.path)  // A full disk must not leave a partial object in `.cache/tmp/`.
            throw naming(error, path)
        }
        guard actual == digest else {
            unlink(temporary.path)
            throw ContentStoreError.corruptObject(path: path, expected: digest.hex, actual: actual.hex)
        }
        try moveIntoStore(temporary, digest: digest, mode: objectMode)
    }

    /// Gives an object a narrower mode. An object hard-linked with a directory remote (see `insert`) shares its
    /// inode with the remote's file, so it is first replaced by a copy of its own: a private file in this
    /// workspace must not make the team's object unreadable to the others.
    private func narrow(_ digest: Digest, to mode: mode_t) throws {
        let object = objectURL(digest)
        guard let links = hardLinkCount(object.path), links > 1 else {
            chmod(object.path, mode)
            return
        }
        let temporary = try makeTemporaryURL()
        try copyVerified(digest, to: temporary.path, creationMode: 0o600, flush: true)
        try moveIntoStore(temporary, digest: digest, mode: mode)
    }

    /// Commits every entry of a directory and then its manifest (whose digest is the directory's hash): a file's
    /// bytes, or a symlink's target text, read again with `readlink` and checked against the manifest.
    public func commitDirectory(at path: String, manifest: DirectoryManifest) throws {
        for entry in manifest.entries {
            let entryPath = path + "/" + entry.relativePath
            switch entry.kind {
            case .file(let permissions):
                try commitFile(at: entryPath, digest: entry.digest, permissions: permissions, followingSymlinks: false)
            case .symlink:
                let target = try readLinkTarget(entryPath)
                let actual = Digest.of(Data(target.utf8))
                guard actual == entry.digest else {
                    throw ContentStoreError.corruptObject(
                        path: entryPath, expected: entry.digest.hex, actual: actual.hex)
                }
                try store(Data(target.utf8))
            }
        }
        try store(manifest.bytes)
    }

    /// Whether every object needed to restore this hash is present (a directory: its manifest and files).
    public func canRestore(_ digest: Digest, isDirectory: Bool) -> Bool {
        guard contains(digest) else { return false }
        guard isDirectory else { return true }
        guard let manifest = try? loadManifest(digest) else { return false }
        return containsAll(manifest.entries.lazy.map(\.digest))
    }

    /// Reads and verifies a directory manifest object.
    public func loadManifest(_ digest: Digest) throws -> DirectoryManifest {
        let url = objectURL(digest)
        let data = try readFile(url)
        let actual = Digest.of(data)
        guard actual == digest else {
            quarantine(digest)
            throw ContentStoreError.corruptObject(path: url.path, expected: digest.hex, actual: actual.hex)
        }
        return try DirectoryManifest.parse(data, path: url.path)
    }

    /// Restores an object (file or directory) to the absolute `destination`, replacing what is there.
    ///
    /// The content is assembled beside the destination and renamed into place, and every object's hash is
    /// re-checked first: a corrupt object is moved to `.cache/quarantine/` and reported, never restored.
    public func checkout(_ digest: Digest, isDirectory: Bool, to destination: String, mode: LinkMode) throws {
        let destinationURL = URL(fileURLWithPath: destination)
        let parent = destinationURL.deletingLastPathComponent()
        try createDirectory(parent)
        let staging = parent.appendingPathComponent(
            ".\(destinationURL.lastPathComponent).pipe-tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        do {
            if isDirectory {
                let manifest = try loadManifest(digest)
                try createDirectory(staging)
                var madeFolders: Set<String> = [staging.path]
                // Files first, links last: nothing is ever written through a link this checkout made.
                var links: [(target: URL, digest: Digest)] = []
                var files: [(target: String, digest: Digest, permissions: UInt16)] = []
                for entry in manifest.entries {
                    let target = staging.appendingPathComponent(entry.relativePath, isDirectory: false)
                    let folder = target.deletingLastPathComponent()
                    if madeFolders.insert(folder.path).inserted { try createDirectory(folder) }
                    switch entry.kind {
                    case .file(let permissions): files.append((target.path, entry.digest, permissions))
                    case .symlink: links.append((target, entry.digest))
                    }
                }
                try placeInParallel(files, mode: mode)
                for link in links { try placeLink(link.digest, at: link.target.path) }
                // The files of a directory are not flushed one by one, as git and DVC leave checked-out files
                // (an fsync each costs a journal commit: 5,000 small files took 30 s here). The objects they come
                // from are durable; a restore cut by a power loss leaves files whose size or content no longer
                // matches the stat cache and the lock, so the next status finds them and repro restores them.
            } else {
                try placeObject(digest, at: staging.path, mode: mode, permissions: ManifestEntry.defaultPermissions)
            }
            try replace(destinationURL, with: staging)
        } catch {
            try? FileManager.default.removeItem(at: staging)
            throw naming(error, destination)
        }
    }

    /// Copies a directory's files out on a few threads: creating a file is a few hundred microseconds of kernel
    /// time on a busy disk, and while one thread creates, another reads, hashes and writes. After an error no
    /// further file is started, and the error is rethrown.
    private func placeInParallel(_ files: [(target: String, digest: Digest, permissions: UInt16)], mode: LinkMode)
        throws
    {
        _ = try parallelMap(count: files.count, workers: 4, threads: .dedicated) { index in
            let file = files[index]
            try placeObject(file.digest, at: file.target, mode: mode, permissions: file.permissions, flush: false)
        }
    }

    /// A new path under `.cache/tmp/` for a download; `adopt` moves it into the store once verified.
    public func temporaryFileURL() throws -> URL { try makeTemporaryURL() }

    /// Moves a file whose content the caller has verified to hash to `digest` into the store (made read-only).
    /// An object already there is kept and the file removed.
    public func adopt(_ temporary: URL, digest: Digest) throws {
        guard !contains(digest) else {
            unlink(temporary.path)
            return
        }
        try moveIntoStore(temporary, digest: digest, mode: 0o444)
    }

    /// Lets `place` make the object `digest` at its final path in one step (a hard link to a file that the caller
    /// has checked hashes to `digest` and nobody may write), with its folder made first. True when the object is
    /// there afterwards; false when `place` could not (an object already there included), and the caller copies it
    /// in instead, which keeps the one there.
    public func insert(_ digest: Digest, placing place: (_ path: String) throws -> Bool) throws -> Bool {
        let target = objectURL(digest)
        try createStoreFolder(target.deletingLastPathComponent())
        return try place(target.path)
    }

    /// Every object in the store, by walking `.cache/objects/`.
    public func allObjects() -> [Digest] {
        var result: [Digest] = []
        let base = objectsDirectory.path
        guard let folders = try? FileManager.default.contentsOfDirectory(atPath: base) else { return result }
        for folder in folders where folder.utf8.count == 2 {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: base + "/" + folder) else {
                continue
            }
            for name in names { if let digest = Digest(hex: folder + name) { result.append(digest) } }
        }
        return result
    }

    /// Every object whose bytes no longer hash to its name (`pipe doctor --deep`), and every file under
    /// `objects/` whose name is not a digest. Reads the whole store.
    public func damagedObjects() -> [DamagedObject] {
        var damaged: [DamagedObject] = []
        let base = objectsDirectory.path
        let folders = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).sorted()
        for folder in folders {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: base + "/" + folder)) ?? []
            for name in names.sorted() {
                let path = base + "/" + folder + "/" + name
                guard let digest = Digest(hex: folder + name), folder.utf8.count == 2 else {
                    damaged.append(DamagedObject(path: path, digest: nil, actual: nil))
                    continue
                }
                let actual = try? FileHashing.hash(path: path).digest
                if actual != digest { damaged.append(DamagedObject(path: path, digest: digest, actual: actual)) }
            }
        }
        return damaged
    }

    /// Removes an object (for `pipe gc`); an absent one is not an error.
    public func remove(_ digest: Digest) throws {
        guard unlink(objectURL(digest).path) == 0 || errno == ENOENT else {
            throw ContentStoreError.cannotWrite(path: objectURL(digest).path, reason: errnoText())
        }
    }

    // MARK: - Private

    /// Puts a verified object at `path` with the recorded permissions (the umask still applies, as to any file
    /// created). A hard link shares the object's inode and so its read-only mode: only an ordinary file is linked;
    /// an executable or a private one is copied, so that its own mode is kept.
    ///
    /// `flush: false` leaves the copy's bytes to the caller's one `sync()` (a directory of many files).
    private func placeObject(
        _ digest: Digest, at path: String, mode: LinkMode, permissions: UInt16, flush: Bool = true
    ) throws {
        let creationMode = mode_t(permissions)
        switch mode {
        case .hardlink where permissions == ManifestEntry.defaultPermissions:
            let object = try verifiedObject(digest)
            guard link(object.path, path) == 0 else {
                throw ContentStoreError.cannotWrite(path: path, reason: errnoText())
            }
        case .reflink where !reflinkRefused:
            let object = try verifiedObject(digest)
            if try !cloneFile(from: object.path, to: path, creationMode: creationMode) {
                try copyFile(from: object.path, to: path, creationMode: creationMode, flush: flush)
            }
        case .copy, .hardlink, .reflink:
            try copyVerified(digest, to: path, creationMode: creationMode, flush: flush)
        }
    }

    /// Copies an object out, hashing it on the way instead of reading it twice; a copy whose bytes do not hash
    /// to the object's name is deleted and the object quarantined.
    private func copyVerified(_ digest: Digest, to path: String, creationMode: mode_t, flush: Bool) throws {
        let object = objectURL(digest)
        let hasher = SHA256Hasher()
        do {
            try copyFile(from: object.path, to: path, creationMode: creationMode, flush: flush) { hasher.update($0) }
        } catch ContentStoreError.cannotRead where FileStat.at(object.path) == nil {
            throw ContentStoreError.missingObject(digest: digest.hex)
        }
        let actual = hasher.finish()
        guard actual == digest else {
            unlink(path)
            quarantine(digest)
            throw ContentStoreError.corruptObject(path: object.path, expected: digest.hex, actual: actual.hex)
        }
    }

    /// Set once the file system has refused a clone: the rest of this process's restores copy at once instead of
    /// trying (four system calls a file) and failing again.
    nonisolated(unsafe) private var reflinkRefused = false

    /// Makes the symlink whose target text is the object `digest`.
    private func placeLink(_ digest: Digest, at path: String) throws {
        let target = String(decoding: try readFile(try verifiedObject(digest)), as: UTF8.self)
        guard symlink(target, path) == 0 else { throw ContentStoreError.cannotWrite(path: path, reason: errnoText()) }
    }

    /// The object's URL once its bytes are checked against its name; a corrupt one is quarantined.
    private func verifiedObject(_ digest: Digest) throws -> URL {
        let object = objectURL(digest)
        guard FileStat.at(object.path) != nil else { throw ContentStoreError.missingObject(digest: digest.hex) }
        let (actual, _) = try FileHashing.hash(path: object.path)
        guard actual == digest else {
            quarantine(digest)
            throw ContentStoreError.corruptObject(path: object.path, expected: digest.hex, actual: actual.hex)
        }
        return object
    }

    /// The target text of a symlink, read without following it.
    private func readLinkTarget(_ path: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { throw ContentStoreError.cannotRead(path: path, reason: errnoText()) }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Renames the assembled copy into place. Not flushed, as git and DVC leave a checkout: a restore is put back
    /// from the cache, and a rename lost to a power cut leaves an output that status finds missing or changed. On
    /// ext4 (data=ordered) an fsync of the folder would also wait for every file just copied to reach the disk.
    private func replace(_ destination: URL, with staging: URL) throws {
        if let existing = FileStat.at(destination.path) {
            if existing.kind == .directory {
                let aside = destination.deletingLastPathComponent().appendingPathComponent(
                    ".\(destination.lastPathComponent).pipe-old-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
                try AtomicFile.rename(destination, to: aside)
                try AtomicFile.rename(staging, to: destination)
                try? FileManager.default.removeItem(at: aside)
                return
            }
        }
        try AtomicFile.rename(staging, to: destination)
    }

    /// Moves a corrupt object to `.cache/quarantine/` (kept for inspection, never restored again).
    public func quarantine(_ digest: Digest) {
        try? createDirectory(quarantineDirectory)
        let target = quarantineDirectory.appendingPathComponent(digest.hex + "-\(nowNanoseconds())")
        Glibc.rename(objectURL(digest).path, target.path)
    }

    private func makeTemporaryURL() throws -> URL {
        try createStoreFolder(temporaryDirectory)
        return temporaryDirectory.appendingPathComponent(
            "\(getpid())-\(UInt64.random(in: 0...UInt64.max))", isDirectory: false)
    }

    private func moveIntoStore(_ temporary: URL, digest: Digest, mode: mode_t) throws {
        let target = objectURL(digest)
        do {
            try createStoreFolder(target.deletingLastPathComponent())
            chmod(temporary.path, mode)
            try AtomicFile.rename(temporary, to: target)
        } catch {
            unlink(temporary.path)
            throw error
        }
    }

    /// A full disk reported against the file the user knows (the output being stored, the one being restored)
    /// rather than a temporary, with the space left now that the partial copy is gone.
    private func naming(_ error: Error, _ path: String) -> Error {
        guard case ContentStoreError.noSpace(_, let needed, _) = error else { return error }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return ContentStoreError.noSpace(
            path: path, needed: needed, available: availableBytes(onFileSystemOf: folder))
    }

    private func createStoreFolder(_ url: URL) throws {
        knownFoldersLock.lock()
        let known = knownFolders.contains(url.path)
        knownFoldersLock.unlock()
        guard !known else { return }
        try createDirectory(url)
        knownFoldersLock.lock()
        knownFolders.insert(url.path)
        knownFoldersLock.unlock()
    }

    private func createDirectory(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw ContentStoreError.cannotWrite(path: url.path, reason: error.localizedDescription)
        }
    }

    /// Copies `source` to a new temporary file, hashing the bytes on the way, and flushes it. The copy is created
    /// 0600: it is only the store's until `moveIntoStore` gives it the object's mode.
    private func copyHashing(from source: String, to destination: String, followingSymlinks: Bool) throws -> Digest {
        let hasher = SHA256Hasher()
        try copyFile(
            from: source, to: destination, creationMode: 0o600, followingSymlinks: followingSymlinks
        ) { hasher.update($0) }
        return hasher.finish()
    }

    private func copyFile(
        from source: String, to destination: String, creationMode: mode_t, followingSymlinks: Bool = true,
        flush: Bool = true, observe: ((UnsafeRawBufferPointer) -> Void)? = nil
    ) throws {
        let input = open(source, O_RDONLY | O_CLOEXEC | (followingSymlinks ? 0 : O_NOFOLLOW))
        guard input >= 0 else { throw ContentStoreError.cannotRead(path: source, reason: errnoText()) }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, creationMode)
        guard output >= 0 else { throw ContentStoreError.cannotWrite(path: destination, reason: errnoText()) }
        defer { close(output) }
        var info = stat()
        let small = fstat(input, &info) == 0 && info.st_size < Int64(FileHashing.smallFileLimit)
        let size = small ? FileHashing.smallFileLimit : FileHashing.chunkSize
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        defer { buffer.deallocate() }
        try FileHashing.readChunks(input, through: buffer, path: source) { chunk in
            observe?(chunk)
            var offset = 0
            while offset < chunk.count, let base = chunk.baseAddress {
                let written = write(output, base + offset, chunk.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw writeError(destination, needed: Int64(info.st_size))
                }
                offset += written
            }
        }
        guard !flush || fsync(output) == 0 else { throw writeError(destination, needed: Int64(info.st_size)) }
    }

    /// The current `errno` as an error: `noSpace` with the size being written when the disk is full.
    private func writeError(_ path: String, needed: Int64) -> ContentStoreError {
        guard isOutOfSpace(errno) else { return .cannotWrite(path: path, reason: errnoText()) }
        return .noSpace(path: path, needed: needed, available: nil)
    }

    /// A copy-on-write clone (`FICLONE`); false when the filesystem cannot clone.
    private func cloneFile(from source: String, to destination: String, creationMode: mode_t) throws -> Bool {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw ContentStoreError.cannotRead(path: source, reason: errnoText()) }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, creationMode)
        guard output >= 0 else { throw ContentStoreError.cannotWrite(path: destination, reason: errnoText()) }
        let ficlone: UInt = 0x4004_9409
        let cloned = ioctl(output, ficlone, input) == 0
        let refusal = errno
        close(output)
        if !cloned {
            unlink(destination)
            // Not a one-off failure but the file system saying it cannot clone (ext4, tmpfs, across mounts).
            if [EOPNOTSUPP, ENOTTY, EXDEV, EINVAL].contains(refusal) { reflinkRefused = true }
        }
        return cloned
    }
}
