import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Streams a file through SHA-256 in large reads, never holding the whole file in memory.
public enum FileHashing {
    static let chunkSize = 1 << 20
    /// Below this size a file is read through a buffer of this size (malloc'd, not mapped).
    static let smallFileLimit = 64 << 10

    /// The SHA-256 of the file at `path` and the number of bytes read.
    public static func hash(path: String) throws -> (digest: Digest, size: Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw ContentStoreError.notFound(path: path) }
            throw ContentStoreError.cannotRead(path: path, reason: errnoText())
        }
        defer { close(fd) }
        // Map files up to 1 GiB instead of reading them: no copy through a buffer, and the kernel reads ahead.
        var info = stat()
        let known = fstat(fd, &info) == 0
        // Small files (most of a directory of many) are read into a small heap buffer: a mapping or a 1 MiB
        // buffer costs an mmap and a munmap each.
        let bufferSize = known && info.st_size < Int64(smallFileLimit) ? smallFileLimit : chunkSize
        if known, info.st_size >= Int64(smallFileLimit), info.st_size <= 1 << 30 {
            let size = Int(info.st_size)
            if let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0), mapping != MAP_FAILED {
                defer { munmap(mapping, size) }
                let hasher = SHA256Hasher()
                hasher.update(UnsafeRawBufferPointer(start: mapping, count: size))
                return (hasher.finish(), Int64(size))
            }
        }
        if bufferSize == chunkSize { posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 64)
        defer { buffer.deallocate() }
        let hasher = SHA256Hasher()
        var total: Int64 = 0
        try readChunks(fd, through: buffer, path: path) { chunk in
            hasher.update(chunk)
            total += Int64(chunk.count)
        }
        return (hasher.finish(), total)
    }

    /// Reads `fd` to its end, `buffer.count` bytes at a time, handing each chunk read to `body`. An interrupted read
    /// is retried; a failed one is `cannotRead` naming `path`.
    static func readChunks(
        _ fd: Int32, through buffer: UnsafeMutableRawBufferPointer, path: String,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        while true {
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw ContentStoreError.cannotRead(path: path, reason: errnoText())
            }
            if count == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }
}
