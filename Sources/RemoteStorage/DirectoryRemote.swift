import ContentStore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A remote that is a directory: a shared drive, an NFS mount, a folder on the same machine.
///
/// The layout is the remote layout under `root` (`objects/ab/cdef…`). An object is written to a hidden
/// temporary name in its final folder, flushed, and renamed into place: rename within one directory is atomic on
/// local file systems and on NFS, so a reader never sees part of an object. Temporary names start with `.` and
/// are never listed; one left by a killed push is overwritten by no one and removed by `pipe gc`.
///
/// `put` leaves each object under its temporary name; `commit()` flushes them all with one `sync()` and then
/// renames them into place, so an object is visible only once its bytes are durable, at the cost of one flush
/// per wave rather than one per object (an fsync each made 5,000 small objects take seconds).
///
/// On the same file system as the cache, objects are hard-linked instead of copied, both ways, as `git clone`
/// does from a local path: objects are read-only and named by their content, so the cache and the remote can share
/// an inode, and a link is complete the moment it exists. Creating a file costs a few hundred microseconds on a
/// busy disk and a link a few, so a push or fetch of 5,000 small files gets several times faster. Only files
/// that nobody may write are linked (a cache object is 0444; a private 0400 one is copied), each is hashed before
/// it is linked, and where a link is refused (another file system, `fs.protected_hardlinks` on a teammate's file)
/// the object is copied.
public final class DirectoryRemote: RemoteStorage, @unchecked Sendable {
    public let root: URL
    public let location: String
    private let lock = NSLock()
    /// Written and verified objects waiting for `commit()`: temporary path → final path.
    private var pending: [(temporary: String, target: String)] = []
    private var createdFolders = Set<String>()
    /// Set once `link` failed with EXDEV: the remote is on another file system, so every object is copied.
    nonisolated(unsafe) private var linkingRefused = false

    /// `root` must exist: a missing directory is a configuration error (a mount that is not mounted must not
    /// quietly become an empty folder on the local disk).
    public init(root: URL, location: String) throws {
        self.root = root.standardizedFileURL
        self.location = location
        guard FileStat.at(self.root.path, followingSymlinks: true)?.kind == .directory else {
            throw RemoteError.badConfiguration("remote \(location): no such directory \(self.root.path)")
        }
    }

    public func list(prefix: String) throws -> Set<String> {
        var keys = Set<String>()
        let base = root.appendingPathComponent(prefix).path
        guard let folders = try? FileManager.default.contentsOfDirectory(atPath: base) else { return keys }
        for folder in folders where !folder.hasPrefix(".") {
            guard let names = regularFileNames(in: base + "/" + folder) else { continue }
            for name in names where !name.hasPrefix(".") { keys.insert(prefix + folder + "/" + name) }
        }
        return keys
    }

    public func exists(_ key: String) throws -> Bool {
        FileStat.at(path(of: key), followingSymlinks: true)?.kind == .file
    }

    public func get(_ key: String, to destination: String, onBytes: ((Int) -> Void)?) throws -> Digest? {
        let source = path(of: key)
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            if errno == ENOENT { return nil }
            throw RemoteError.server(
                remote: location, key: key, status: 0, code: "", message: String(cString: strerror(errno)))
        }
        defer { close(input) }
        let writer = try HashingFileWriter(path: destination, flush: false)
        try copy(from: input, to: writer, onBytes: onBytes) {
            RemoteError.server(remote: location, key: key, status: 0, code: "", message: errnoText())
        }
        return try writer.finish()
    }

    public func link(_ key: String, to destination: String, digest: Digest) throws -> LinkOutcome {
        let source = path(of: key)
        guard let stat = FileStat.at(source, followingSymlinks: false) else { return .absent }
        guard !linkingRefused, stat.kind == .file, stat.permissions & 0o222 == 0 else { return .unsupported }
        let actual: (digest: Digest, size: Int64)
        do {
            actual = try FileHashing.hash(path: source)
        } catch {
            throw RemoteError.server(remote: location, key: key, status: 0, code: "", message: "\(error)")
        }
        guard actual.digest == digest else {
            throw RemoteError.corruptObject(remote: location, key: key, actual: actual.digest.hex)
        }
        return hardLink(source, to: destination) ? .linked(size: actual.size) : .unsupported
    }

    /// `link(2)`; false (and nothing made) where the file system or its policy refuses it.
    private func hardLink(_ source: String, to destination: String) -> Bool {
        guard Glibc.link(source, destination) == 0 else {
            if errno == EXDEV { linkingRefused = true }
            return false
        }
        return true
    }

    /// A cache object that nobody may write becomes the remote's object by a hard link, once hashed: its bytes
    /// are already durable, so it needs no temporary name and no flush.
    private func putByLink(_ key: String, file source: String, sha256: Digest) throws -> Bool {
        guard !linkingRefused, let stat = FileStat.at(source), stat.kind == .file, stat.permissions == 0o444 else {
            return false
        }
        let actual: Digest
        do {
            actual = try FileHashing.hash(path: source).digest
        } catch {
            throw RemoteError.localFile(path: source, reason: "\(error)")
        }
        guard actual == sha256 else {
            throw RemoteError.localFile(
                path: source, reason: "changed since it was hashed (now \(actual.hex), expected \(sha256.hex))")
        }
        // An object already there under the key is replaced by the copying path, as a copy would replace it.
        return hardLink(source, to: path(of: key))
    }

    public func put(_ key: String, file source: String, size: Int64, sha256: Digest, onBytes: ((Int) -> Void)?) throws {
        let target = URL(fileURLWithPath: path(of: key), isDirectory: false)
        let folder = target.deletingLastPathComponent()
        try createFolder(folder)
        if try putByLink(key, file: source, sha256: sha256) {
            onBytes?(Int(size))
            return
        }
        let temporary = folder.appendingPathComponent(
            ".\(target.lastPathComponent).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))", isDirectory: false)
        do {
            let writer = try HashingFileWriter(path: temporary.path, flush: false)
            let input = open(source, O_RDONLY | O_CLOEXEC)
            guard input >= 0 else {
                throw RemoteError.localFile(path: source, reason: String(cString: strerror(errno)))
            }
            defer { close(input) }
            try copy(from: input, to: writer, onBytes: onBytes) {
                RemoteError.localFile(path: source, reason: errnoText())
            }
            // The bytes that reached the remote are hashed on the way: a local object that changed since it was
            // hashed (it should not: objects are read-only) never lands under the wrong key.
            let written = try writer.finish()
            guard written == sha256 else {
                throw RemoteError.localFile(
                    path: source, reason: "changed while being pushed (now \(written.hex), expected \(sha256.hex))")
            }
            chmod(temporary.path, 0o444)
            lock.lock()
            pending.append((temporary.path, target.path))
            lock.unlock()
        } catch {
            unlink(temporary.path)
            throw error
        }
    }

    public func commit() throws {
        lock.lock()
        let batch = pending
        pending.removeAll()
        lock.unlock()
        guard !batch.isEmpty else { return }
        Glibc.sync()
        for (index, item) in batch.enumerated() where rename(item.temporary, item.target) != 0 {
            let reason = errnoText()
            for rest in batch[index...] { unlink(rest.temporary) }
            throw RemoteError.localFile(path: item.target, reason: "cannot rename into place: \(reason)")
        }
    }

    /// Objects written but never committed (a failed push) are removed, never left half-way.
    deinit {
        for item in pending { unlink(item.temporary) }
    }

    private func createFolder(_ folder: URL) throws {
        lock.lock()
        let known = createdFolders.contains(folder.path)
        lock.unlock()
        guard !known else { return }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw RemoteError.localFile(path: folder.path, reason: "cannot create: \(error.localizedDescription)")
        }
        lock.lock()
        createdFolders.insert(folder.path)
        lock.unlock()
    }

    public func delete(_ keys: [String]) throws {
        for key in keys where unlink(path(of: key)) != 0 && errno != ENOENT {
            throw RemoteError.localFile(path: path(of: key), reason: "cannot remove: \(errnoText())")
        }
    }

    /// Temporary files that a killed push left behind, older than `age` seconds (a push in progress writes
    /// its own, young ones).
    public func staleTemporaryFiles(olderThan age: TimeInterval) -> [String] {
        var found: [String] = []
        let now = Date()
        for prefix in [RemoteKey.objectsPrefix, RemoteKey.runCachePrefix] {
            let base = root.appendingPathComponent(prefix).path
            guard let folders = try? FileManager.default.contentsOfDirectory(atPath: base) else { continue }
            for folder in folders {
                let path = base + "/" + folder
                guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { continue }
                for name in names where name.hasPrefix(".") && name.contains(".tmp-") {
                    let file = path + "/" + name
                    let modified =
                        (try? FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date) ?? now
                    if now.timeIntervalSince(modified) > age { found.append(file) }
                }
            }
        }
        return found
    }

    private func path(of key: String) -> String { root.path + "/" + key }

    /// Streams an open file into a writer, 1 MiB at a time; `readError` names the side that failed.
    private func copy(
        from input: Int32, to writer: HashingFileWriter, onBytes: ((Int) -> Void)?, readError: () -> RemoteError
    ) throws {
        let size = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let count = read(input, buffer.baseAddress, size)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw readError() }
            if count == 0 { return }
            try writer.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            onBytes?(count)
        }
    }
}

func errnoText() -> String { String(cString: strerror(errno)) }
