import Foundation
import SystemFacts

#if canImport(Glibc)
import Glibc
#endif

/// The facts of `lstat(2)` that decide whether a file changed.
public struct FileStat: Equatable, Sendable {
    public enum Kind: Sendable { case file, directory, symlink, other }
    public let kind: Kind
    public let inode: UInt64
    public let size: Int64
    public let mtimeNanoseconds: Int64
    public let ctimeNanoseconds: Int64
    /// The permission bits (`st_mode & 07777`).
    public let permissions: UInt16

    /// The facts of the file at `path`, or `nil` when nothing is there. Follows symlinks only when asked.
    public static func at(_ path: String, followingSymlinks: Bool = false) -> FileStat? {
        var info = Glibc.stat()
        let status = fstatat(AT_FDCWD, path, &info, followingSymlinks ? 0 : AT_SYMLINK_NOFOLLOW)
        guard status == 0 else { return nil }
        return FileStat(info)
    }

    init(kind: Kind, inode: UInt64, size: Int64, mtime: Int64, ctime: Int64, permissions: UInt16) {
        self.kind = kind
        self.inode = inode
        self.size = size
        self.mtimeNanoseconds = mtime
        self.ctimeNanoseconds = ctime
        self.permissions = permissions
    }

    init(_ info: Glibc.stat) {
        switch info.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        mtimeNanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        ctimeNanoseconds = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
        permissions = UInt16(info.st_mode & 0o7777)
    }
}

/// What stands at `path` when it is there but is not a regular file ("a directory", …); nil otherwise. Kept here for
/// the callers that ask the content store; `SystemFacts.FileKind` answers.
public func nonRegularFileKind(_ path: String) -> String? { FileKind.nonRegular(at: path) }

/// `realpath(3)`: the absolute path with every symlink resolved; nil when it does not exist.
func canonicalPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// The bytes ordinary users may still write on the file system holding `path` (what `df` calls available).
public func availableBytes(onFileSystemOf path: String) -> Int64? {
    var info = statvfs()
    guard statvfs(path, &info) == 0 else { return nil }
    return Int64(info.f_bavail) * Int64(info.f_frsize)
}

/// Whether `code` says the file system (or the user's quota) is full.
func isOutOfSpace(_ code: Int32) -> Bool { code == ENOSPC || code == EDQUOT }

/// `93.9 MB`, `512 B`: decimal units, as `du -h --si` and DVC print them.
public func formatBytes(_ count: Int64) -> String {
    let value = Double(count)
    if value < 1000 { return "\(count) B" }
    for (limit, unit) in [(1e6, "kB"), (1e9, "MB"), (1e12, "GB")] where value < limit {
        return String(format: "%.1f %@", value / (limit / 1000), unit)
    }
    return String(format: "%.1f TB", value / 1e12)
}

/// Wall-clock time in nanoseconds since the epoch.
func nowNanoseconds() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
}

/// Writes files so that a crash at any moment leaves either the old content or the new one.
public enum AtomicFile {
    /// Writes `data` to a temporary file beside `url`, flushes it, renames it into place and flushes the directory.
    /// `durable: false` skips the flushes, for caches whose loss only costs time: the rename still keeps a
    /// reader from ever seeing a half-written file.
    public static func write(_ data: Data, to url: URL, durable: Bool = true) throws {
        try write(to: url, durable: durable) { sink in
            try data.withUnsafeBytes { try sink.write($0) }
        }
    }

    /// Streams a file into place atomically: `body` writes through the sink, in as many pieces as it likes, so a
    /// large file never has to exist whole in memory. A throw from `body` removes the temporary file.
    public static func write(to url: URL, durable: Bool = true, _ body: (Sink) throws -> Void) throws {
        _ = try write(to: url, durable: durable, hashing: false, body)
    }

    /// `write(to:durable:_:)` that also hashes the bytes as they are written: returns their SHA-256 and the stat
    /// of the file in place, so that a caller can hand the digest on instead of reading the file back.
    public static func writeHashing(to url: URL, durable: Bool = true, _ body: (Sink) throws -> Void) throws
        -> (digest: Digest, stat: FileStat)
    {
        let (digest, stat) = try write(to: url, durable: durable, hashing: true, body)
        guard let digest, let stat else { throw ContentStoreError.notFound(path: url.path) }
        return (digest, stat)
    }

    private static func write(to url: URL, durable: Bool, hashing: Bool, _ body: (Sink) throws -> Void) throws
        -> (Digest?, FileStat?)
    {
        let directory = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let temporary = directory.appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ContentStoreError.cannotWrite(path: temporary.path, reason: errnoText()) }
        let sink = Sink(fd: fd, path: temporary.path, hashing: hashing)
        do {
            try body(sink)
            if durable, fsync(fd) != 0 { throw Sink.writeError(temporary.path) }
        } catch {
            close(fd)
            unlink(temporary.path)
            guard case ContentStoreError.noSpace = error else { throw error }
            throw ContentStoreError.noSpace(
                path: url.path, needed: nil, available: availableBytes(onFileSystemOf: directory.path))
        }
        close(fd)
        do {
            try rename(temporary, to: url)
        } catch {
            unlink(temporary.path)
            throw error
        }
        if durable { syncDirectory(directory) }
        guard hashing else { return (nil, nil) }
        return (sink.hasher?.finish(), FileStat.at(url.path))
    }

    /// The write end of an atomic file.
    public final class Sink {
        let fd: Int32
        let path: String
        let hasher: SHA256Hasher?

        init(fd: Int32, path: String, hashing: Bool) {
            self.fd = fd
            self.path = path
            hasher = hashing ? SHA256Hasher() : nil
        }

        public func write(_ bytes: UnsafeRawBufferPointer) throws {
            hasher?.update(bytes)
            var offset = 0
            while offset < bytes.count, let base = bytes.baseAddress {
                let written = Glibc.write(fd, base + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw Sink.writeError(path)
                }
                offset += written
            }
        }

        /// The current `errno` as an error; `noSpace` when the disk is full.
        static func writeError(_ path: String) -> ContentStoreError {
            isOutOfSpace(errno)
                ? .noSpace(path: path, needed: nil, available: nil)
                : .cannotWrite(path: path, reason: errnoText())
        }
    }

    /// Removes the temporary files that `write` left beside `url` when a process died between creating and
    /// renaming one. Only for a file whose writers all hold a lock the caller holds too.
    public static func removeStaleTemporaries(of url: URL) {
        let directory = url.deletingLastPathComponent()
        let prefix = ".\(url.lastPathComponent).tmp-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        for name in names where name.hasPrefix(prefix) {
            unlink(directory.appendingPathComponent(name).path)
        }
    }

    /// `rename(2)`, with the error naming both paths.
    public static func rename(_ source: URL, to destination: URL) throws {
        guard Glibc.rename(source.path, destination.path) == 0 else {
            let reason = errnoText()
            throw ContentStoreError.cannotWrite(path: destination.path, reason: "rename from \(source.path): \(reason)")
        }
    }

    /// Flushes a directory entry so a rename inside it survives a power loss.
    public static func syncDirectory(_ directory: URL) {
        let fd = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}

/// Reads a whole file, naming the file in the error.
public func readFile(_ url: URL) throws -> Data {
    do {
        return try Data(contentsOf: url)
    } catch {
        if FileStat.at(url.path) == nil { throw ContentStoreError.notFound(path: url.path) }
        throw ContentStoreError.cannotRead(path: url.path, reason: error.localizedDescription)
    }
}

/// The names of the regular files directly in `folder` (one `getdents` pass, no stat per name), or nil when it
/// cannot be read. An entry whose type the file system does not report is stat'ed, so nothing else is counted.
public func regularFileNames(in folder: String) -> Set<String>? {
    guard let stream = opendir(folder) else { return nil }
    defer { closedir(stream) }
    var names = Set<String>()
    while let entry = readdir(stream) {
        let name = withUnsafePointer(to: &entry.pointee.d_name) {
            String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
        }
        switch entry.pointee.d_type {
        case UInt8(DT_REG): names.insert(name)
        case UInt8(DT_UNKNOWN) where FileStat.at(folder + "/" + name)?.kind == .file: names.insert(name)
        default: continue
        }
    }
    return names
}

/// How many names the file at `path` has (`st_nlink`), or nil when nothing is there.
public func hardLinkCount(_ path: String) -> Int? {
    var info = Glibc.stat()
    guard lstat(path, &info) == 0 else { return nil }
    return Int(info.st_nlink)
}
