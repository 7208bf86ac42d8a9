import Foundation

/// Remembers the hash of each file by (path, inode, size, mtime, ctime) so unchanged files are never re-read.
///
/// Timestamps have a granularity (the kernel's coarse clock ticks every few milliseconds, some filesystems
/// keep whole seconds), so a file rewritten with the same size right after it was hashed can keep the same
/// stat facts. As git does with its index, an entry recorded less than `racyWindow` after the file's last
/// change is not trusted: the file is hashed again, and the entry becomes trustworthy once it is old enough.
///
/// Thread-safe: lookups and records may come from many hashing threads at once.
public final class StatCache: @unchecked Sendable {
    struct Entry: Equatable {
        var digest: Digest
        var inode: UInt64
        var size: Int64
        var mtime: Int64
        var ctime: Int64
        var recordedAt: Int64
    }

    public static let racyWindowNanoseconds: Int64 = 1_000_000_000
    static let header = "pipe-stat-cache 1"

    public let fileURL: URL?
    private var entries: [String: Entry] = [:]
    private var dirty = false
    private let lock = NSLock()
    public private(set) var hits = 0
    public private(set) var misses = 0

    /// An empty cache that is never saved (tests, `--no-stat-cache`).
    public init() { fileURL = nil }

    /// The cache at `url`, read on first use, so that a command whose paths all have other answers (a directory's
    /// snapshot) never parses it; a missing or unreadable file is an empty cache (it is only an accelerator).
    public init(loading url: URL) {
        fileURL = url
        isLoaded = false
    }

    private var isLoaded = true

    /// Reads the file into `entries` once; called with `lock` held.
    private func loadIfNeeded() {
        guard !isLoaded else { return }
        isLoaded = true
        guard let fileURL, let data = try? Data(contentsOf: fileURL) else { return }
        let text = String(decoding: data, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)[...]
        guard lines.first == Substring(Self.header) else { return }
        lines = lines.dropFirst()
        for line in lines {
            let fields = line.split(separator: " ", maxSplits: 6, omittingEmptySubsequences: false)
            guard fields.count == 7, let digest = Digest(hex: String(fields[0])),
                let inode = UInt64(fields[1]), let size = Int64(fields[2]), let mtime = Int64(fields[3]),
                let ctime = Int64(fields[4]), let recordedAt = Int64(fields[5])
            else { continue }
            entries[String(fields[6])] = Entry(
                digest: digest, inode: inode, size: size, mtime: mtime, ctime: ctime, recordedAt: recordedAt)
        }
    }

    /// The remembered digest when `stat` still matches and the entry is not racy.
    public func lookup(path: String, stat: FileStat) -> Digest? {
        lock.lock()
        defer { lock.unlock() }
        loadIfNeeded()
        guard let entry = entries[path], entry.inode == stat.inode, entry.size == stat.size,
            entry.mtime == stat.mtimeNanoseconds, entry.ctime == stat.ctimeNanoseconds,
            entry.recordedAt - max(entry.mtime, entry.ctime) >= Self.racyWindowNanoseconds
        else {
            misses += 1
            return nil
        }
        hits += 1
        return entry.digest
    }

    /// Records the digest of `path` as of `stat`, taken before the file was read.
    public func record(path: String, stat: FileStat, digest: Digest) {
        guard !path.contains("\n") else { return }
        let entry = Entry(
            digest: digest, inode: stat.inode, size: stat.size, mtime: stat.mtimeNanoseconds,
            ctime: stat.ctimeNanoseconds, recordedAt: nowNanoseconds())
        lock.lock()
        defer { lock.unlock() }
        loadIfNeeded()
        if entries[path] != entry {
            entries[path] = entry
            dirty = true
        }
    }

    /// Drops the entries of every file under the workspace-relative `directory`: a directory's snapshot keeps
    /// their facts, and entries left here would only make every later load slower.
    public func forget(under directory: String) {
        let prefix = directory + "/"
        lock.lock()
        defer { lock.unlock() }
        loadIfNeeded()
        let before = entries.count
        entries = entries.filter { !$0.key.hasPrefix(prefix) }
        if entries.count != before { dirty = true }
    }

    /// Writes the cache atomically when anything changed since it was loaded.
    public func save() throws {
        guard let fileURL else { return }
        lock.lock()
        defer { lock.unlock() }
        guard dirty else { return }
        var text = Self.header + "\n"
        for path in entries.keys.sorted() {
            guard let entry = entries[path] else { continue }
            text += "\(entry.digest.hex) \(entry.inode) \(entry.size) \(entry.mtime) \(entry.ctime) "
            text += "\(entry.recordedAt) \(path)\n"
        }
        try AtomicFile.write(Data(text.utf8), to: fileURL, durable: false)
        dirty = false
    }
}
