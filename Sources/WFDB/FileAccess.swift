import Foundation
import SystemFacts

/// Small POSIX helpers: reads are bounded by the file's real size, never by a header's claims.
enum FileAccess {
    /// Size of a regular file, or nil when it does not exist or is not a regular file.
    static func size(of path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(info.st_size)
    }

    /// The error for a path `size(of:)` found nothing at: not found, or there but not a regular file.
    static func missingFileError(_ path: String, notFound: WFDBError) -> WFDBError {
        guard let kind = FileKind.nonRegular(at: path) else { return notFound }
        return .unreadable(file: path, reason: "\(kind), not a regular file")
    }

    /// Reads the whole file.
    static func readAll(_ path: String) throws -> [UInt8] {
        guard let size = size(of: path) else {
            throw missingFileError(path, notFound: .fileNotFound(file: path))
        }
        return try read(path, offset: 0, count: size)
    }

    /// Reads `count` bytes at `offset`; the range must lie inside the file.
    static func read(_ path: String, offset: Int, count: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            if errno == ENOENT { throw WFDBError.fileNotFound(file: path) }
            throw WFDBError.unreadable(file: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw WFDBError.unreadable(file: path, reason: String(cString: strerror(errno)))
        }
        let fileSize = Int(info.st_size)
        guard offset >= 0, count >= 0, offset <= fileSize, count <= fileSize - offset else {
            throw WFDBError.truncatedSignalFile(file: path, neededBytes: offset &+ count, actualBytes: fileSize)
        }
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        try bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            while done < count {
                let n = pread(fd, base + done, count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw WFDBError.unreadable(file: path, reason: String(cString: strerror(errno)))
                }
                if n == 0 { break }
                done += n
            }
        }
        guard done == count else {
            throw WFDBError.truncatedSignalFile(file: path, neededBytes: offset + count, actualBytes: offset + done)
        }
        return bytes
    }

    /// Writes bytes to a file atomically (temporary file, then rename).
    static func write(_ bytes: [UInt8], to path: String) throws {
        let data = bytes.withUnsafeBufferPointer { Data(buffer: $0) }
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw WFDBError.writeFailed(file: path, reason: error.localizedDescription)
        }
    }
}

/// Where a record lives: a path without extension, or ending in `.hea`.
public struct RecordLocation: Equatable, Sendable {
    public var directory: String
    public var name: String
    public var headerPath: String { directory + "/" + name + ".hea" }

    public init(directory: String, name: String) {
        self.directory = directory
        self.name = name
    }

    public init(path: String) {
        var trimmed = path
        if trimmed.hasSuffix(".hea") { trimmed.removeLast(4) }
        let url = URL(fileURLWithPath: trimmed)
        directory = url.deletingLastPathComponent().path
        name = url.lastPathComponent
    }

    public func path(for fileName: String) -> String { directory + "/" + fileName }
}
