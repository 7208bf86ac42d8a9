import Foundation
import Parallel

#if canImport(Glibc)
import Glibc
#endif

/// The hash of a workspace path: a file's content, or a directory's sorted manifest.
public struct PathHash: Equatable, Sendable {
    public var digest: Digest
    public var isDirectory: Bool
    /// Total bytes of the file, or of every file in the directory.
    public var size: Int64
    /// 1 for a file; the number of files for a directory.
    public var fileCount: Int

    public init(digest: Digest, isDirectory: Bool, size: Int64, fileCount: Int) {
        self.digest = digest
        self.isDirectory = isDirectory
        self.size = size
        self.fileCount = fileCount
    }
}

/// One line of a directory manifest: an entry's path relative to the directory, what it is, and its digest.
public struct ManifestEntry: Equatable, Sendable {
    /// What a directory entry is, as git records it: a file with its mode, or a symlink.
    public enum Kind: Equatable, Sendable {
        /// A regular file; `permissions` as `recordedPermissions` gives them.
        case file(permissions: UInt16)
        /// A symlink, never followed: the digest and size are those of its target text, stored as an object.
        case symlink
    }

    /// The permissions of an ordinary file, the only ones the original manifest format could say.
    public static let defaultPermissions: UInt16 = 0o644

    public var relativePath: String
    public var digest: Digest
    public var size: Int64
    public var kind: Kind

    public init(relativePath: String, digest: Digest, size: Int64, kind: Kind = .file(permissions: defaultPermissions))
    {
        self.relativePath = relativePath
        self.digest = digest
        self.size = size
        self.kind = kind
    }

    /// The permissions recorded for a file of mode `mode`: its read and execute bits exactly, and write for the
    /// owner only. Group and other write bits are what a umask decides (002 or 022), so recording them would make
    /// the same output hash differently on two machines; read and execute are what a restore must keep (a 0600
    /// key stays private, a script stays executable). setuid, setgid and sticky are never recorded.
    public static func recordedPermissions(_ mode: UInt16) -> UInt16 { (mode & 0o555) | 0o200 }
}

/// A directory's content as sorted lines; its SHA-256 is the directory's hash.
///
/// The original format, still read and still written for ordinary files, is `sha256 size path` (a file of mode
/// 0644). An entry that is anything else starts with its git mode: `100755 sha256 size path` (an executable, or any
/// other recorded permissions as `100PPP`) and `120000 sha256 size path` (a symlink; the object is its target
/// text). The two are told apart by the first field's length (64 hex digits or 6 octal ones), so a directory of
/// ordinary files keeps the hash it had before modes and symlinks were recorded, and existing caches still restore.
public struct DirectoryManifest: Equatable, Sendable {
    public var entries: [ManifestEntry]

    public init(entries: [ManifestEntry]) {
        self.entries = entries.sorted { $0.relativePath.utf8.lexicographicallyPrecedes($1.relativePath.utf8) }
    }

    /// Entries already in the manifest's order (paths compared as bytes).
    init(sortedEntries: [ManifestEntry]) { entries = sortedEntries }

    public var bytes: Data {
        var text = ""
        for entry in entries {
            switch entry.kind {
            case .file(let permissions) where permissions == ManifestEntry.defaultPermissions: break
            case .file(let permissions): text += "100" + String(permissions, radix: 8) + " "
            case .symlink: text += "120000 "
            }
            text += "\(entry.digest.hex) \(entry.size) \(entry.relativePath)\n"
        }
        return Data(text.utf8)
    }

    public var digest: Digest { Digest.of(bytes) }

    /// Parses manifest bytes read from `path` (named in errors).
    public static func parse(_ data: Data, path: String) throws -> DirectoryManifest {
        // Scanned as bytes, not split into Strings: a manifest of 5,000 entries is read by every status and push.
        var entries: [ManifestEntry] = []
        let bytes = [UInt8](data)
        var lineStart = 0
        var lineNumber = 0
        while lineStart < bytes.count {
            let lineEnd = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            defer { lineStart = lineEnd + 1 }
            guard lineEnd > lineStart else { continue }
            lineNumber += 1
            entries.append(try parseLine(bytes[lineStart..<lineEnd], path: path, line: lineNumber))
        }
        try checkNoEntryInsideAnother(entries, path: path)
        return DirectoryManifest(entries: entries)
    }

    /// One `[mode] sha256 size path` line.
    private static func parseLine(_ line: ArraySlice<UInt8>, path: String, line number: Int) throws -> ManifestEntry {
        func malformed(_ reason: String) -> ContentStoreError {
            .malformedManifest(path: path, line: number, reason: reason)
        }
        let space = UInt8(ascii: " ")
        var rest = line
        var kind = ManifestEntry.Kind.file(permissions: ManifestEntry.defaultPermissions)
        if let first = rest.firstIndex(of: space), first - rest.startIndex == 6 {
            let mode = String(decoding: rest[..<first], as: UTF8.self)
            if mode == "120000" {
                kind = .symlink
            } else if mode.hasPrefix("100"), let permissions = UInt16(mode.dropFirst(3), radix: 8),
                permissions == ManifestEntry.recordedPermissions(permissions),
                permissions != ManifestEntry.defaultPermissions
            {
                kind = .file(permissions: permissions)
            } else {
                throw malformed("unknown entry mode '\(mode)'")
            }
            rest = rest[(first + 1)...]
        }
        guard let hashEnd = rest.firstIndex(of: space), let sizeEnd = rest[(hashEnd + 1)...].firstIndex(of: space),
            let digest = Digest(hex: String(decoding: rest[..<hashEnd], as: UTF8.self)),
            let size = Int64(String(decoding: rest[(hashEnd + 1)..<sizeEnd], as: UTF8.self))
        else {
            throw malformed("expected '[mode] sha256 size path'")
        }
        let relativePath = String(decoding: rest[(sizeEnd + 1)...], as: UTF8.self)
        guard !relativePath.isEmpty, !relativePath.hasPrefix("/"),
            !(relativePath.contains("..") && relativePath.split(separator: "/").contains(".."))
        else {
            throw malformed("expected '[mode] sha256 size path'")
        }
        return ManifestEntry(relativePath: relativePath, digest: digest, size: size, kind: kind)
    }

    /// An entry inside another entry (a file or link 'a' and a file 'a/b') cannot come from a listing, and
    /// restoring it would write through what 'a' is.
    private static func checkNoEntryInsideAnother(_ entries: [ManifestEntry], path: String) throws {
        let nested = entries.indices.filter { entries[$0].relativePath.utf8.contains(UInt8(ascii: "/")) }
        guard !nested.isEmpty else { return }
        let paths = Set(entries.map(\.relativePath))
        for index in nested {
            let components = entries[index].relativePath.split(separator: "/")
            for end in components.indices.dropLast()
            where paths.contains(components[...end].joined(separator: "/")) {
                throw ContentStoreError.malformedManifest(
                    path: path, line: index + 1, reason: "'\(entries[index].relativePath)' lies inside another entry")
            }
        }
    }
}

/// Hashes workspace paths, consulting the stat cache first and reading the files that need it in parallel.
public final class ContentHasher: @unchecked Sendable {
    public let root: URL
    public let statCache: StatCache
    /// How many files were actually read (not answered by the stat cache).
    public private(set) var filesRead = 0
    private let lock = NSLock()
    /// Digests this process computed itself, from the bytes it read or wrote, keyed by workspace-relative path
    /// with the stat they belong to. Unlike the stat cache's entries they are trusted at once, without its racy
    /// window: the engine holds the workspace lock, so within one process a file whose stat is unchanged since
    /// its bytes went through SHA-256 here still holds them. They let a stage that hashed an output while
    /// writing it, and a directory hashed once for the lock and again for its manifest, skip reading it again.
    private var fresh: [String: (stat: FileStat, digest: Digest, recordedAt: Int64)] = [:]
    /// Where directory snapshots are kept (`.cache/tree-cache/`, beside the stat cache); nil keeps them in memory.
    private let snapshotDirectory: URL?
    /// The snapshots this process has taken or loaded, by workspace-relative directory.
    private var snapshots: [String: DirectorySnapshot] = [:]

    public init(root: URL, statCache: StatCache) {
        self.root = root
        self.statCache = statCache
        snapshotDirectory = statCache.fileURL?.deletingLastPathComponent().appendingPathComponent("tree-cache")
    }

    /// Remembers the digest of the bytes just written to (or read from) a workspace-relative file, valid while the
    /// file keeps `stat`; the stat cache records it too, for later processes.
    public func remember(path: String, stat: FileStat, digest: Digest) {
        rememberFresh(path: path, stat: stat, digest: digest, recordedAt: nowNanoseconds())
        statCache.record(path: path, stat: stat, digest: digest)
    }

    private func rememberFresh(path: String, stat: FileStat, digest: Digest, recordedAt: Int64) {
        lock.lock()
        fresh[path] = (stat, digest, recordedAt)
        lock.unlock()
    }

    private func freshDigest(path: String, stat: FileStat) -> (digest: Digest, recordedAt: Int64)? {
        lock.lock()
        defer { lock.unlock() }
        guard let entry = fresh[path], entry.stat == stat else { return nil }
        return (entry.digest, entry.recordedAt)
    }

    /// Hashes each workspace-relative path (file or directory); all files involved are read in parallel.
    ///
    /// A path that is itself a symlink is followed only when it resolves inside the workspace. Inside a directory,
    /// symlinks are never followed: each is recorded as a link (`ManifestEntry.Kind.symlink`), so a link to `/etc`
    /// or `/proc/self/root` costs one `readlink`, and one pointing outside the workspace is refused.
    public func hash(_ relativePaths: [String]) throws -> [String: PathHash] {
        var files: [String] = []  // workspace-relative
        var directories: [String: DirectorySnapshot] = [:]
        var knownStats: [String: FileStat] = [:]
        for path in relativePaths {
            let absolute = root.appendingPathComponent(path).path
            if FileStat.at(absolute)?.kind == .symlink { try checkResolvesInside(path) }
            guard let stat = FileStat.at(absolute, followingSymlinks: true) else {
                throw ContentStoreError.notFound(path: path)
            }
            switch stat.kind {
            case .file:
                files.append(path)
                knownStats[path] = stat
            case .directory:
                directories[path] = try snapshot(directory: path)
            default: throw ContentStoreError.unsupportedFileType(path: path)
            }
        }
        let fileHashes = try hashFiles(files, knownStats: knownStats)
        var result: [String: PathHash] = [:]
        for path in relativePaths {
            if let snapshot = directories[path] {
                result[path] = PathHash(
                    digest: snapshot.digest, isDirectory: true, size: snapshot.size, fileCount: snapshot.fileCount)
            } else if let hash = fileHashes[path] {
                result[path] = PathHash(digest: hash.digest, isDirectory: false, size: hash.size, fileCount: 1)
            }
        }
        return result
    }

    /// The manifest of a workspace directory (hashing what its snapshot and the stat cache cannot answer).
    public func manifest(directory: String) throws -> DirectoryManifest {
        try snapshot(directory: directory).manifest()
    }

    /// The current snapshot of a workspace directory: the one recorded last when every entry still has the
    /// recorded facts, else one rebuilt from what changed (and recorded).
    func snapshot(directory: String) throws -> DirectorySnapshot {
        let absolute = root.appendingPathComponent(directory).path
        let file = snapshotDirectory?.appendingPathComponent(Digest.of(directory).hex)
        lock.lock()
        let remembered = snapshots[directory]
        lock.unlock()
        let previous = remembered ?? file.flatMap { try? Data(contentsOf: $0) }.flatMap(DirectorySnapshot.decode)
        let unchanged = previous?.unchangedFolders(at: absolute) ?? []
        if let previous, unchanged.count == previous.folders.count {
            if remembered == nil { keep(previous, for: directory) }
            return previous
        }
        let snapshot = try DirectorySnapshot.build(
            directory: directory, root: root, previous: previous, unchanged: unchanged, linkTarget: linkTarget,
            known: { path, stat in
                if let fresh = self.freshDigest(path: path, stat: stat) { return fresh }
                guard let digest = self.statCache.lookup(path: path, stat: stat) else { return nil }
                // Trusted by the stat cache: recorded at least the racy window after the file's last change.
                return (digest, max(stat.mtimeNanoseconds, stat.ctimeNanoseconds) + StatCache.racyWindowNanoseconds)
            },
            read: readRecording)
        keep(snapshot, for: directory)
        statCache.forget(under: directory)
        if let file {
            try? FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? AtomicFile.write(Data(snapshot.encoded()), to: file, durable: false)
        }
        return snapshot
    }

    private func keep(_ snapshot: DirectorySnapshot, for directory: String) {
        lock.lock()
        snapshots[directory] = snapshot
        lock.unlock()
    }

    /// Reads and hashes workspace-relative files of a directory in parallel, largest first, each with the time
    /// taken before its read (0, never trusted, when the file's size changed under the read).
    private func readRecording(_ files: [(path: String, stat: FileStat)]) throws -> [(
        digest: Digest, recordedAt: Int64
    )] {
        guard !files.isEmpty else { return [] }
        let order = files.indices.sorted { files[$0].stat.size > files[$1].stat.size }
        lock.lock()
        filesRead += files.count
        lock.unlock()
        let hashes = try parallelMap(count: order.count, threads: .dedicated) { position in
            let (path, stat) = files[order[position]]
            let recordedAt = nowNanoseconds()
            let hash: (digest: Digest, size: Int64)
            do {
                hash = try FileHashing.hash(path: root.appendingPathComponent(path).path)
            } catch ContentStoreError.notFound {
                throw ContentStoreError.notFound(path: path)
            }
            guard stat.size == hash.size else { return (hash.digest, Int64(0)) }
            rememberFresh(path: path, stat: stat, digest: hash.digest, recordedAt: recordedAt)
            return (hash.digest, recordedAt)
        }
        var result = [(digest: Digest, recordedAt: Int64)](repeating: (Digest.of(Data()), 0), count: files.count)
        for (position, index) in order.enumerated() { result[index] = hashes[position] }
        return result
    }

    /// The target text of the symlink at a workspace-relative path inside a directory output, refused when it is
    /// absolute or climbs out of the workspace: such a link is not portable, and restoring it would hand whoever
    /// follows it files that were never part of the output. The link is never followed, only read.
    func linkTarget(_ path: String) throws -> String {
        let absolute = root.appendingPathComponent(path).path
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(absolute, &buffer, buffer.count - 1)
        guard count >= 0 else { throw ContentStoreError.cannotRead(path: path, reason: errnoText()) }
        let target = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard !target.hasPrefix("/") else {
            throw ContentStoreError.symlinkOutsideWorkspace(path: path, target: target)
        }
        // Lexically, from the link's directory: one level down per name, one up per '..', never above the root.
        var depth = path.split(separator: "/").count - 1
        for component in target.split(separator: "/") where component != "." {
            depth += component == ".." ? -1 : 1
            if depth < 0 { throw ContentStoreError.symlinkOutsideWorkspace(path: path, target: target) }
        }
        return target
    }

    /// A declared path that is a symlink is followed only when it resolves inside the workspace.
    private func checkResolvesInside(_ path: String) throws {
        let absolute = root.appendingPathComponent(path).path
        guard let resolved = canonicalPath(absolute) else { return }  // dangling: reported as not found
        let base = canonicalPath(root.path) ?? root.path
        guard resolved == base || resolved.hasPrefix(base + "/") else {
            throw ContentStoreError.symlinkOutsideWorkspace(path: path, target: resolved)
        }
    }

    /// Hashes regular files, answering from the stat cache where it can and reading the rest in parallel.
    public func hashFiles(
        _ paths: [String], knownStats: [String: FileStat] = [:]
    ) throws -> [String: (digest: Digest, size: Int64)] {
        var result: [String: (digest: Digest, size: Int64)] = [:]
        var toRead: [(path: String, stat: FileStat)] = []
        for path in paths {
            guard
                let stat = knownStats[path]
                    ?? FileStat.at(root.appendingPathComponent(path).path, followingSymlinks: true)
            else {
                throw ContentStoreError.notFound(path: path)
            }
            if let digest = freshDigest(path: path, stat: stat)?.digest ?? statCache.lookup(path: path, stat: stat) {
                result[path] = (digest, stat.size)
            } else {
                toRead.append((path, stat))
            }
        }
        guard !toRead.isEmpty else { return result }
        // Largest first, so one big file does not start last and leave the other cores idle. Dedicated threads: the
        // reads block, and the engine's pool may be busy with other stages.
        let work = toRead.sorted { $0.stat.size > $1.stat.size }
        lock.lock()
        filesRead += toRead.count
        lock.unlock()
        let hashes = try parallelMap(count: work.count, threads: .dedicated) { index in
            try read(work[index].path, expecting: work[index].stat)
        }
        for (item, hash) in zip(work, hashes) { result[item.path] = hash }
        return result
    }

    /// Reads and hashes one workspace-relative file, remembering its digest when it still has the size `stat`
    /// gives (a file that changed while being read is recorded under its new stat next time).
    private func read(_ path: String, expecting stat: FileStat) throws -> (digest: Digest, size: Int64) {
        let hash: (digest: Digest, size: Int64)
        do {
            hash = try FileHashing.hash(path: root.appendingPathComponent(path).path)
        } catch ContentStoreError.notFound {
            throw ContentStoreError.notFound(path: path)
        }
        if hash.size == stat.size { remember(path: path, stat: stat, digest: hash.digest) }
        return hash
    }
}
