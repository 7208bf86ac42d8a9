import ContentStore
import Foundation
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// Where `ecg.fetch` reads a PhysioNet database from: a local directory or an http(s) base URL, both with
/// PhysioNet's layout (`RECORDS`, `SHA256SUMS.txt` or `SHA256SUMS`, the record files).
protocol DatabaseSource: Sendable {
    /// The directory or base URL, for messages.
    var description: String { get }
    /// Where `file` is read from, for messages.
    func location(of file: String) -> String
    /// A small index file (`RECORDS`, `SHA256SUMS.txt`), or nil when the source has none.
    func index(_ name: String, log: (String) -> Void) throws -> Data?
    /// The size of `file` when it is known without transferring it (for the progress bar's total).
    func size(of file: String) -> Int64?
    /// Puts `file` at `destination`, atomically and only once its SHA-256 equals `expected`.
    func fetch(
        _ file: String, expected: Digest, to destination: URL, progress: TransferProgress, log: (String) -> Void
    ) throws
}

/// A directory holding the database (such as `../shared/data/mitdb`): files are copied and hashed in one pass.
struct LocalDirectorySource: DatabaseSource {
    let directory: URL

    var description: String { directory.path }

    func location(of file: String) -> String { directory.appendingPathComponent(file).path }

    func index(_ name: String, log: (String) -> Void) throws -> Data? {
        let path = location(of: name)
        guard FileStat.at(path, followingSymlinks: true)?.kind == .file else { return nil }
        do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw FetchError.fileSystem(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
    }

    func size(of file: String) -> Int64? { FileStat.at(location(of: file), followingSymlinks: true)?.size }

    func fetch(
        _ file: String, expected: Digest, to destination: URL, progress: TransferProgress, log: (String) -> Void
    ) throws {
        let path = location(of: file)
        guard FileStat.at(path, followingSymlinks: true)?.kind == .file else {
            throw FetchError.fileSystem(path: path, reason: "no such file in the source")
        }
        let size = try VerifiedFile.install(
            from: path, to: destination, name: file, origin: path, expected: expected,
            onBytes: { progress.transferred($0) })
        progress.fileFinished(file, size: size)
    }
}

/// A PhysioNet-style base URL (`https://physionet.org/files/mitdb/1.0.0/`). Each file is downloaded into
/// `partialDirectory` (outside the stage's output, which the engine removes before a run), resumed with a
/// `Range` request after an interruption, verified, then moved into the output.
struct PhysioNetHTTPSource: DatabaseSource {
    let base: URL
    let partialDirectory: URL
    let client: HTTPClient
    /// Tries per request, each resuming where the previous one stopped.
    let attempts: Int
    /// Seconds before retry n (times n).
    let retryDelay: TimeInterval

    var description: String { base.absoluteString }

    func location(of file: String) -> String { url(of: file).absoluteString }

    private func url(of file: String) -> URL { base.appendingPathComponent(file) }

    /// `.cache/downloads/HOST[_PORT]/PATH/` for `base`: one folder per source, so two mirrors never mix.
    static func partialDirectory(for base: URL, under cache: URL) -> URL {
        var folder = base.host ?? "host"
        if let port = base.port { folder += "_\(port)" }
        var directory = cache.appendingPathComponent(folder)
        for component in base.path.split(separator: "/") where component != ".." && component != "." {
            directory.appendPathComponent(String(component))
        }
        return directory
    }

    func index(_ name: String, log: (String) -> Void) throws -> Data? {
        try withRetries(name, log: log) { try client.getData(url(of: name)) }
    }

    /// Takes `partialDirectory/.lock`, so that two stages fetching from this source at once (the engine runs
    /// independent stages in parallel, and two `pipe` processes may share `.cache`) never write the same partial
    /// file: the second waits for the first.
    func lockPartialDirectory(log: (String) -> Void) throws -> FileLock {
        do {
            try FileManager.default.createDirectory(at: partialDirectory, withIntermediateDirectories: true)
        } catch {
            throw FetchError.fileSystem(path: partialDirectory.path, reason: "cannot create: \(error)")
        }
        return try FileLock(path: partialDirectory.appendingPathComponent(".lock").path) {
            log("waiting for another fetch from \(description) to finish")
        }
    }

    func size(of file: String) -> Int64? { nil }

    func fetch(
        _ file: String, expected: Digest, to destination: URL, progress: TransferProgress, log: (String) -> Void
    ) throws {
        let partial = partialDirectory.appendingPathComponent(file)
        do {
            try FileManager.default.createDirectory(
                at: partial.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw FetchError.fileSystem(path: partial.path, reason: "cannot create its directory: \(error)")
        }
        // A partial file left complete by an earlier run (killed between download and install) is used as is.
        if let existing = FileStat.at(partial.path), existing.size > 0,
            let hash = try? FileHashing.hash(path: partial.path), hash.digest == expected
        {
            progress.present(hash.size)
            try install(file, from: partial, to: destination, expected: expected, progress: progress)
            return
        }
        let resumed = (FileStat.at(partial.path)?.size ?? 0) > 0
        try download(file, to: partial, progress: progress, log: log)
        do {
            try install(file, from: partial, to: destination, expected: expected, progress: progress)
        } catch FetchError.checksumMismatch where resumed {
            // The bytes kept from an earlier run may belong to another version of the file: start over once.
            log("\(file) did not verify after resuming a partial download; downloading it again from the start")
            try download(file, to: partial, progress: progress, log: log)
            try install(file, from: partial, to: destination, expected: expected, progress: progress)
        }
    }

    /// Verifies and moves the partial file into place; a partial file that fails verification is deleted.
    private func install(
        _ file: String, from partial: URL, to destination: URL, expected: Digest, progress: TransferProgress
    ) throws {
        defer { unlink(partial.path) }
        do {
            let size = try VerifiedFile.install(
                from: partial.path, to: destination, name: file, origin: location(of: file), expected: expected)
            progress.fileFinished(file, size: size)
        } catch {
            progress.discarded(FileStat.at(partial.path)?.size ?? 0)
            throw error
        }
    }

    /// Brings `partial` to the file's full length, resuming from its current length.
    private func download(_ file: String, to partial: URL, progress: TransferProgress, log: (String) -> Void) throws {
        let start = FileStat.at(partial.path)?.size ?? 0
        if start > 0 { progress.present(start) }
        try withRetries(file, log: log) {
            try downloadOnce(url(of: file), to: partial, progress: progress)
        }
    }

    private func downloadOnce(_ url: URL, to partial: URL, progress: TransferProgress) throws {
        let offset = FileStat.at(partial.path)?.size ?? 0
        let response = try client.get(url, rangeStart: offset > 0 ? offset : nil)
        let append: Bool
        switch response.head.status {
        case 206:
            guard offset > 0, response.head.contentRange?.start == offset else {
                try truncate(partial, progress: progress)
                throw FetchError.network(
                    url: url.absoluteString,
                    reason: "asked for bytes from \(offset), got '\(response.head.header("content-range") ?? "")'")
            }
            append = true
        case 200..<300:
            // The whole file (a server that ignores Range answers 200): start the partial file over.
            progress.discarded(offset)
            append = false
        case 416:
            // The partial file is as long as the file or longer, yet did not verify: start over.
            try truncate(partial, progress: progress)
            throw FetchError.network(url: url.absoluteString, reason: "range from byte \(offset) not satisfiable")
        default:
            throw FetchError.httpStatus(
                url: url.absoluteString, status: response.head.status, reason: response.head.reason)
        }
        let fd = open(partial.path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0o644)
        guard fd >= 0 else {
            throw FetchError.fileSystem(path: partial.path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        try response.readBody { chunk in
            try VerifiedFile.writeAll(fd, chunk, path: partial.path)
            progress.transferred(chunk.count)
        }
    }

    private func truncate(_ partial: URL, progress: TransferProgress) throws {
        progress.discarded(FileStat.at(partial.path)?.size ?? 0)
        unlink(partial.path)
    }

    /// Runs `body` up to `attempts` times while it fails with a transient error, logging each retry.
    private func withRetries<T>(_ file: String, log: (String) -> Void, _ body: () throws -> T) throws -> T {
        var attempt = 1
        while true {
            do {
                do { return try body() } catch let error as TransportError { throw FetchError(error) }
            } catch let error as FetchError where error.isTransient && attempt < attempts {
                attempt += 1
                log("\(error); retrying \(file) (attempt \(attempt) of \(attempts))")
                if retryDelay > 0 { Thread.sleep(forTimeInterval: retryDelay * Double(attempt - 1)) }
            }
        }
    }
}

/// An exclusive `flock(2)` on a file, held until `unlock()`.
final class FileLock {
    private var fd: Int32

    /// Blocks while another holder has it, calling `waiting` once first.
    init(path: String, waiting: () -> Void) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FetchError.fileSystem(path: path, reason: String(cString: strerror(errno))) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            waiting()
            while flock(fd, LOCK_EX) != 0 {
                guard errno == EINTR else {
                    let reason = String(cString: strerror(errno))
                    close(fd)
                    throw FetchError.fileSystem(path: path, reason: "cannot lock: \(reason)")
                }
            }
        }
    }

    func unlock() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
    }

    deinit { unlock() }
}

/// Copies a file while hashing it and renames the copy into place only when the hash is the expected one.
enum VerifiedFile {
    /// Returns the number of bytes installed. On a mismatch nothing is left at `destination` or beside it.
    @discardableResult
    static func install(
        from source: String, to destination: URL, name: String, origin: String, expected: Digest,
        onBytes: ((Int) -> Void)? = nil
    ) throws -> Int64 {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw FetchError.fileSystem(path: source, reason: String(cString: strerror(errno))) }
        defer { close(input) }
        let directory = destination.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw FetchError.fileSystem(path: directory.path, reason: "cannot create: \(error)")
        }
        let temporary = directory.appendingPathComponent(
            ".\(destination.lastPathComponent).fetch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let output = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else {
            throw FetchError.fileSystem(path: temporary.path, reason: String(cString: strerror(errno)))
        }
        var installed = false
        defer {
            close(output)
            if !installed { unlink(temporary.path) }
        }
        let hasher = SHA256Hasher()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        var failure: Error?
        while failure == nil {
            let count = read(input, buffer.baseAddress, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count < 0 {
                failure = FetchError.fileSystem(path: source, reason: String(cString: strerror(errno)))
                break
            }
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            hasher.update(chunk)
            do { try writeAll(output, chunk, path: temporary.path) } catch { failure = error }
            total += Int64(count)
            onBytes?(count)
        }
        if let failure { throw failure }
        let actual = hasher.finish()
        guard actual == expected else {
            throw FetchError.checksumMismatch(file: name, from: origin, expected: expected, actual: actual)
        }
        do { try AtomicFile.rename(temporary, to: destination) } catch {
            throw FetchError.fileSystem(path: destination.path, reason: "\(error)")
        }
        installed = true
        return total
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count, let base = bytes.baseAddress {
            let written = write(fd, base + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw FetchError.fileSystem(path: path, reason: "cannot write: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }
}
