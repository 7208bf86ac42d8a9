import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `runs/pipe.sqlite-writes`: how many write transactions the run store had committed, as its writers last saw.
///
/// The store counts its own write transactions in its header (`PRAGMA user_version`, raised inside each one), so
/// the count travels with the data: a transaction that lived only in `pipe.sqlite-wal` is lost together with its
/// count. A store whose count is below this file's lost writes: its write-ahead log was deleted or damaged before
/// a checkpoint copied it into `pipe.sqlite`. SQLite cannot tell; it opens such a store as if nothing happened.
///
/// Writers raise the file after they commit and never lower it, so a writer racing another may leave it below the
/// store (a loss then goes unnoticed) but never above it (a sound store is never accused). It is one fixed-width
/// number rewritten in place: after its first write no block is ever allocated, so it keeps working on a full disk.
struct WriteTally {
    /// The file beside the store.
    let path: String

    static let suffix = "-writes"
    private static let width = 20

    init(storePath: String) { path = storePath + Self.suffix }

    /// The recorded count; nil when there is no readable file (a store from before the tally, or never written).
    func read() -> Int? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Records `count` unless the file already says as much or more. Best effort: a failed write only weakens the
    /// check, so it is never an error.
    func raise(to count: Int) {
        if let recorded = read(), recorded >= count { return }
        overwrite(with: count)
    }

    /// Records `count` even below what the file says (`--repair` accepting a store that lost writes).
    func reset(to count: Int) { overwrite(with: count) }

    func remove() { unlink(path) }

    private func overwrite(with count: Int) {
        let digits = String(count)
        let text = String(repeating: "0", count: max(0, Self.width - digits.count)) + digits + "\n"
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = text.utf8CString.withUnsafeBufferPointer { buffer in pwrite(fd, buffer.baseAddress, text.utf8.count, 0) }
    }
}
