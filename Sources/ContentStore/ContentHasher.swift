import Dispatch
import Foundation

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

/// One line of a directory manifest: a file's path relative to the directory and its digest.
public struct ManifestEntry: Equatable, Sendable {
    public var relativePath: String
    public var digest: Digest
    public var size: Int64
}

/// A directory's content as sorted `digest size relative/path` lines; its SHA-256 is the directory's hash.
public struct DirectoryManifest: Equatable, Sendable {
    public var entries: [ManifestEntry]

    public init(entries: [ManifestEntry]) {
        self.entries = entries.sorted { $0.relativePath.utf8.lexicographicallyPrecedes($1.relativePath.utf8) }
    }

    public var bytes: Data {
        var text = ""
        for entry in entries { text += "\(entry.digest.hex) \(entry.size) \(entry.relativePath)\n" }
        return Data(text.utf8)
    }

    public var digest: Digest { Digest.of(bytes) }

    /// Parses manifest bytes read from `path` (named in errors).
    public static func parse(_ data: Data, path: String) throws -> DirectoryManifest {
        var entries: [ManifestEntry] = []
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
        for (index, line) in lines.enumerated() {
            let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, let digest = Digest(hex: String(fields[0])), let size = Int64(fields[1]),
                !fields[2].isEmpty, !fields[2].hasPrefix("/"), !fields[2].split(separator: "/").contains("..")
            else {
                throw ContentStoreError.malformedManifest(
                    path: path, line: index + 1, reason: "expected 'sha256 size path'")
            }
            entries.append(ManifestEntry(relativePath: String(fields[2]), digest: digest, size: size))
        }
        return DirectoryManifest(entries: entries)
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
    private var fresh: [String: (stat: FileStat, digest: Digest)] = [:]

    public init(root: URL, statCache: StatCache) {
        self.root = root
        self.statCache = statCache
    }

    /// Remembers the digest of the bytes just written to (or read from) a workspace-relative file, valid while the
    /// file keeps `stat`; the stat cache records it too, for later processes.
    public func remember(path: String, stat: FileStat, digest: Digest) {
        lock.lock()
        fresh[path] = (stat, digest)
        lock.unlock()
        statCache.record(path: path, stat: stat, digest: digest)
    }

    private func freshDigest(path: String, stat: FileStat) -> Digest? {
        lock.lock()
        defer { lock.unlock() }
        guard let entry = fresh[path], entry.stat == stat else { return nil }
        return entry.digest
    }

    /// Hashes each workspace-relative path (file or directory); all files involved are read in parallel.
    public func hash(_ relativePaths: [String]) throws -> [String: PathHash] {
        var files: [String] = []  // workspace-relative
        var directoryFiles: [String: [String]] = [:]  // directory -> its files, workspace-relative
        var knownStats: [String: FileStat] = [:]
        for path in relativePaths {
            let absolute = root.appendingPathComponent(path).path
            guard let stat = FileStat.at(absolute, followingSymlinks: true) else {
                throw ContentStoreError.notFound(path: path)
            }
            switch stat.kind {
            case .file:
                files.append(path)
                knownStats[path] = stat
            case .directory:
                let inside = try listFilesWithStats(inDirectory: path)
                directoryFiles[path] = inside.map(\.path)
                for (file, fileStat) in inside {
                    files.append(file)
                    knownStats[file] = fileStat
                }
            default: throw ContentStoreError.unsupportedFileType(path: path)
            }
        }
        let fileHashes = try hashFiles(files, knownStats: knownStats)
        var result: [String: PathHash] = [:]
        for path in relativePaths {
            if let inside = directoryFiles[path] {
                let manifest = try manifest(directory: path, files: inside, hashes: fileHashes)
                let size = manifest.entries.reduce(Int64(0)) { $0 + $1.size }
                result[path] = PathHash(
                    digest: manifest.digest, isDirectory: true, size: size, fileCount: manifest.entries.count)
            } else if let hash = fileHashes[path] {
                result[path] = PathHash(digest: hash.digest, isDirectory: false, size: hash.size, fileCount: 1)
            }
        }
        return result
    }

    /// The manifest of a workspace directory (hashing what the stat cache cannot answer).
    public func manifest(directory: String) throws -> DirectoryManifest {
        let files = try listFiles(inDirectory: directory)
        return try manifest(directory: directory, files: files, hashes: try hashFiles(files))
    }

    private func manifest(
        directory: String, files: [String], hashes: [String: (digest: Digest, size: Int64)]
    ) throws -> DirectoryManifest {
        let prefixLength = directory.count + 1
        return DirectoryManifest(
            entries: files.compactMap { file in
                guard let hash = hashes[file] else { return nil }
                return ManifestEntry(
                    relativePath: String(file.dropFirst(prefixLength)), digest: hash.digest, size: hash.size)
            })
    }

    /// Every regular file under a workspace-relative directory, recursively, workspace-relative.
    func listFiles(inDirectory directory: String) throws -> [String] {
        try listFilesWithStats(inDirectory: directory).map(\.path)
    }

    /// Every regular file under a directory with the stat taken while listing (so it is not taken twice).
    func listFilesWithStats(inDirectory directory: String) throws -> [(path: String, stat: FileStat)] {
        var result: [(path: String, stat: FileStat)] = []
        var pending = [directory]
        while let current = pending.popLast() {
            let absolute = root.appendingPathComponent(current).path
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: absolute)
            } catch {
                throw ContentStoreError.cannotRead(path: current, reason: error.localizedDescription)
            }
            for name in names {
                let child = current + "/" + name
                guard let stat = FileStat.at(root.appendingPathComponent(child).path, followingSymlinks: true) else {
                    continue
                }
                switch stat.kind {
                case .file: result.append((child, stat))
                case .directory: pending.append(child)
                default: throw ContentStoreError.unsupportedFileType(path: child)
                }
            }
        }
        return result.sorted { $0.path < $1.path }
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
            if let digest = freshDigest(path: path, stat: stat) ?? statCache.lookup(path: path, stat: stat) {
                result[path] = (digest, stat.size)
            } else {
                toRead.append((path, stat))
            }
        }
        guard !toRead.isEmpty else { return result }
        // Largest first, so one big file does not start last and leave the other cores idle.
        let work = toRead.sorted { $0.stat.size > $1.stat.size }
        let outcomes = OutcomeSlots(count: work.count)
        let next = ManagedCounter()
        runInParallel(workers: min(work.count, ProcessInfo.processInfo.activeProcessorCount)) {
            while true {
                let index = next.increment()
                guard index < work.count else { return }
                let item = work[index]
                let outcome = Result { try FileHashing.hash(path: self.root.appendingPathComponent(item.path).path) }
                // A file that changed while being read is recorded under its new stat next time.
                if case .success(let hash) = outcome, hash.size == item.stat.size {
                    self.remember(path: item.path, stat: item.stat, digest: hash.digest)
                }
                outcomes.set(index, outcome)
            }
        }
        lock.lock()
        filesRead += toRead.count
        lock.unlock()
        for (index, item) in work.enumerated() {
            guard let outcome = outcomes.get(index) else { continue }
            switch outcome {
            case .success(let hash): result[item.path] = hash
            case .failure(let error):
                if let storeError = error as? ContentStoreError, case .notFound = storeError {
                    throw ContentStoreError.notFound(path: item.path)
                }
                throw error
            }
        }
        return result
    }
}

/// Runs `body` on `workers` threads at once (the caller's thread being one of them) and returns when all
/// are done. Dedicated threads, because libdispatch may run a `concurrentPerform` serially on a busy machine.
func runInParallel(workers: Int, _ body: @escaping @Sendable () -> Void) {
    guard workers > 1 else { return body() }
    let group = DispatchGroup()
    for _ in 1..<workers {
        group.enter()
        let thread = Thread {
            body()
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    body()
    group.wait()
}

/// One result slot per file, filled by concurrent workers.
final class OutcomeSlots: @unchecked Sendable {
    private var slots: [Result<(digest: Digest, size: Int64), Error>?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ outcome: Result<(digest: Digest, size: Int64), Error>) {
        lock.lock()
        slots[index] = outcome
        lock.unlock()
    }

    func get(_ index: Int) -> Result<(digest: Digest, size: Int64), Error>? {
        lock.lock()
        defer { lock.unlock() }
        return slots[index]
    }
}

/// A counter that hands out 0, 1, 2, … to concurrent workers.
final class ManagedCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()

    func increment() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value - 1
    }
}
