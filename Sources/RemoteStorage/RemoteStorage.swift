import ContentStore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A place outside the workspace that holds cache objects under keys relative to its root.
///
/// Layout (the same as `.cache/`): `objects/ab/cdef…` is the object whose SHA-256 is `abcdef…` (a file, or a
/// directory's manifest), and `runs/ab/cdef…` is the run-cache entry of the stage signature `abcdef…`.
///
/// Contract for implementations:
/// - every method may be called from several threads at once;
/// - `put` makes an object visible only once it is complete (at the latest on `commit()`): a reader never sees
///   part of one, and an interrupted `put` leaves nothing under `key`;
/// - `get` hashes the bytes while it writes them and returns that digest, so the caller can refuse a corrupt
///   object without reading it again; on a retry it starts the file over; it does not fsync (a fetch of
///   thousands of objects flushes them with one `sync()`);
/// - errors are `RemoteError`s naming the remote and the key, never a credential.
public protocol RemoteStorage: AnyObject, Sendable {
    /// The remote as the user wrote it (`s3://bucket/prefix`, `/mnt/team/cache`), for messages.
    var location: String { get }
    /// Every key under `prefix` (`objects/`), relative to the remote's root.
    func list(prefix: String) throws -> Set<String>
    /// Whether an object exists under `key`.
    func exists(_ key: String) throws -> Bool
    /// Writes the object to a new file at `path` (replacing what is there) and returns the SHA-256 of the bytes
    /// written; nil when there is no such object (and then nothing is left at `path`).
    func get(_ key: String, to path: String, onBytes: ((Int) -> Void)?) throws -> Digest?
    /// Uploads the `size` bytes of the file at `path`, whose SHA-256 is `sha256`, to `key`.
    func put(_ key: String, file path: String, size: Int64, sha256: Digest, onBytes: ((Int) -> Void)?) throws
    /// Removes objects; a key that is already absent is not an error.
    func delete(_ keys: [String]) throws
    /// Puts the object `key` at `path` as a hard link to the remote's own file, without copying a byte, where the
    /// remote is a directory on the same file system (`.linked`, once its bytes are checked to hash to `digest`);
    /// `.absent` when there is no such object; `.unsupported` where it cannot be linked (S3, another file system,
    /// a file the user may not link, a writable one), and the caller copies it with `get`.
    func link(_ key: String, to path: String, digest: Digest) throws -> LinkOutcome
    /// Makes every `put` so far visible, once durable. A push calls it after each wave (files, then the
    /// manifests that name them). Where a `put` is visible at once (S3), it does nothing.
    func commit() throws
}

extension RemoteStorage {
    public func commit() throws {}

    public func link(_ key: String, to path: String, digest: Digest) throws -> LinkOutcome { .unsupported }
}

/// What `RemoteStorage.link` did.
public enum LinkOutcome: Sendable, Equatable {
    /// The object is at the path now; `size` bytes, none of them copied.
    case linked(size: Int64)
    case absent
    case unsupported
}

/// Why a remote operation failed. `badConfiguration` is the user's to fix (exit 2); the rest fail the
/// transfer (exit 1), and none of them changes anything local.
public enum RemoteError: Error, CustomStringConvertible, Equatable {
    /// An unknown remote name, a URL that is neither `s3://` nor a directory, a missing bucket name…
    case badConfiguration(String)
    /// HTTP 403: a wrong secret (`SignatureDoesNotMatch`), an unknown key id, no permission. Names the access
    /// key id (public), never the secret.
    case accessDenied(remote: String, accessKeyID: String?, code: String, message: String)
    case noSuchBucket(remote: String, bucket: String)
    /// Connection refused, a name that does not resolve, a TLS failure, a timeout (after the retries).
    case unreachable(remote: String, reason: String)
    /// Any other error answer, after the retries.
    case server(remote: String, key: String?, status: Int, code: String, message: String)
    /// A downloaded object whose SHA-256 is not its key: never enters `.cache/`.
    case corruptObject(remote: String, key: String, actual: String)
    /// A remote object that is there but unusable (a run-cache entry that does not parse…).
    case malformedObject(remote: String, key: String, reason: String)
    case missingObject(remote: String, key: String)
    case localFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .badConfiguration(let text): return text
        case .accessDenied(let remote, let keyID, let code, let message):
            let key = keyID.map { " with access key id \($0)" } ?? " without credentials"
            return "\(remote): access denied\(key) (HTTP 403 \(code)): \(message)"
        case .noSuchBucket(let remote, let bucket): return "\(remote): the bucket '\(bucket)' does not exist"
        case .unreachable(let remote, let reason): return "\(remote): cannot reach the server: \(reason)"
        case .server(let remote, let key, let status, let code, let message):
            let object = key.map { " (\($0))" } ?? ""
            return
                "\(remote)\(object): HTTP \(status)\(code.isEmpty ? "" : " \(code)")\(message.isEmpty ? "" : ": \(message)")"
        case .corruptObject(let remote, let key, let actual):
            return "\(remote): the object \(key) is corrupt (its content hashes to \(actual)); nothing was checked out"
        case .malformedObject(let remote, let key, let reason): return "\(remote): the object \(key) \(reason)"
        case .missingObject(let remote, let key): return "\(remote): no object \(key)"
        case .localFile(let path, let reason): return "\(path): \(reason)"
        }
    }

    /// Exit code 2 (bad configuration) or 1 (a failed transfer).
    public var isConfigurationError: Bool {
        if case .badConfiguration = self { return true }
        return false
    }
}

/// Keys of the remote layout.
public enum RemoteKey {
    public static let objectsPrefix = "objects/"
    public static let runCachePrefix = "runs/"

    public static func object(_ digest: Digest) -> String {
        objectsPrefix + String(digest.hex.prefix(2)) + "/" + String(digest.hex.dropFirst(2))
    }

    public static func runCacheEntry(_ signature: Digest) -> String {
        runCachePrefix + String(signature.hex.prefix(2)) + "/" + String(signature.hex.dropFirst(2))
    }

    /// The digest a key under `prefix` names, or nil for a key that is not `PREFIXab/cdef…`.
    public static func digest(of key: String, prefix: String) -> Digest? {
        guard key.hasPrefix(prefix) else { return nil }
        let rest = key.dropFirst(prefix.count)
        guard rest.count == 65, rest.dropFirst(2).first == "/" else { return nil }
        return Digest(hex: String(rest.prefix(2)) + String(rest.dropFirst(3)))
    }
}

/// A file written from a stream and hashed on the way: what every `get` writes into.
///
/// Created with `O_TRUNC`; `restart()` empties it for a retry. `finish()` flushes it and returns the digest.
public final class HashingFileWriter {
    public let path: String
    private var fd: Int32
    private let hasher = SHA256Hasher()
    public private(set) var byteCount: Int64 = 0

    /// Without `flush`, `finish()` does not fsync: the caller flushes many files at once (one `sync()`).
    private let flush: Bool

    public init(path: String, flush: Bool = true) throws {
        self.path = path
        self.flush = flush
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RemoteError.localFile(path: path, reason: String(cString: strerror(errno))) }
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    public func write(_ chunk: UnsafeRawBufferPointer) throws {
        hasher.update(chunk)
        var offset = 0
        while offset < chunk.count, let base = chunk.baseAddress {
            let written = Glibc.write(fd, base + offset, chunk.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw RemoteError.localFile(path: path, reason: "cannot write: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        byteCount += Int64(chunk.count)
    }

    /// Empties the file and the hash, for a download that starts over.
    public func restart() throws {
        guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else {
            throw RemoteError.localFile(path: path, reason: "cannot truncate: \(String(cString: strerror(errno)))")
        }
        _ = hasher.finish()  // starts it over
        byteCount = 0
    }

    /// Flushes and closes the file; the SHA-256 of everything written.
    public func finish() throws -> Digest {
        let flushed = !flush || fsync(fd) == 0
        close(fd)
        fd = -1
        let digest = hasher.finish()
        guard flushed else {
            throw RemoteError.localFile(path: path, reason: "cannot flush: \(String(cString: strerror(errno)))")
        }
        return digest
    }
}
