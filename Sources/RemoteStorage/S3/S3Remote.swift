import ContentStore
import Foundation
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// A remote in an S3 bucket (AWS, or any S3-compatible server: MinIO, Ceph, R2, moto), under an optional prefix.
///
/// The object `objects/ab/cdef…` of the protocol is the S3 key `PREFIX/objects/ab/cdef…` (no prefix: the
/// bucket's root). Requests are signed with Signature V4 when there are credentials, unsigned otherwise.
/// Addressing is path-style (`ENDPOINT/BUCKET/KEY`) on a custom endpoint, which is what S3-compatible servers
/// expect, and for bucket names that cannot be a host name; virtual-hosted
/// (`https://BUCKET.s3.REGION.amazonaws.com/KEY`) on AWS otherwise.
///
/// Every request is retried (`S3RetryPolicy`) on 5xx, 429, S3's `SlowDown` / `RequestTimeout` / `InternalError`
/// and on network failures; other 4xx answers fail at once. A retry is signed afresh, resends a whole body and
/// starts a download's file over; bytes of a retried attempt are reported to `onBytes` again.
///
/// Thread-safe: its state is immutable, and `HTTPClient` gives each concurrent request a connection of its own.
public final class S3Remote: RemoteStorage, @unchecked Sendable {
    /// The URL as the user wrote it (`s3://bucket/prefix`).
    public let location: String
    /// The bucket name from `location`.
    public let bucket: String
    /// `""` (the bucket's root) or a prefix ending in `/`.
    public let keyPrefix: String
    /// The credentials, region and endpoint this remote signs for and talks to.
    public let configuration: AWSConfiguration
    /// Files larger than this go up in parts (CreateMultipartUpload / UploadPart / CompleteMultipartUpload).
    public let multipartThreshold: Int64
    /// Bytes per part: at least S3's minimum of 5 MiB, and large enough for S3's limit of 10,000 parts.
    public let partSize: Int64
    /// How often a failed request is tried again, and how long it waits in between.
    public let retryPolicy: S3RetryPolicy
    /// `location`, plus the server when it is not AWS: what error messages name.
    let label: String
    let client: HTTPClient
    let signer: SignatureV4?
    /// The bucket's URL (ListObjectsV2, DeleteObjects), without a trailing slash on path-style addresses.
    let bucketURL: String
    /// What an object's encoded key is appended to.
    let objectURLBase: String

    static let minimumPartSize: Int64 = 5 << 20
    static let maximumPartCount: Int64 = 10_000

    /// - Parameters:
    ///   - url: `s3://BUCKET` or `s3://BUCKET/PREFIX` (slashes around the prefix are not significant).
    ///   - configuration: credentials, region and endpoint, usually from `AWSConfiguration.resolve`.
    ///   - client: shared by every request of this remote; its pool keeps connections alive between them.
    public init(
        url: String, configuration: AWSConfiguration, client: HTTPClient = HTTPClient(),
        multipartThreshold: Int64 = 64 << 20, partSize: Int64 = 16 << 20, retryPolicy: S3RetryPolicy = .standard
    ) throws {
        let (bucket, prefix) = try Self.parse(url)
        location = url
        self.bucket = bucket
        keyPrefix = prefix
        self.configuration = configuration
        self.client = client
        self.multipartThreshold = max(multipartThreshold, 0)
        self.partSize = max(partSize, Self.minimumPartSize)
        self.retryPolicy = retryPolicy
        signer = configuration.credentials.map { SignatureV4(credentials: $0, region: configuration.region) }
        let encodedBucket = AWSURIEncoding.encode(bucket)
        if let endpoint = configuration.endpoint {
            let base =
                endpoint.absoluteString.hasSuffix("/")
                ? String(endpoint.absoluteString.dropLast()) : endpoint.absoluteString
            bucketURL = base + "/" + encodedBucket
            objectURLBase = bucketURL + "/"
            let components = URLComponents(url: endpoint, resolvingAgainstBaseURL: true)
            let server = (components?.host ?? endpoint.absoluteString) + (components?.port.map { ":\($0)" } ?? "")
            label = "\(url) at \(server)"
        } else {
            let domain = configuration.region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
            let service = "s3.\(configuration.region).\(domain)"
            // A dotted name would not match the wildcard certificate of *.s3.REGION.amazonaws.com.
            if Self.isDNSCompatible(bucket) && !bucket.contains(".") {
                bucketURL = "https://\(bucket).\(service)/"
                objectURLBase = bucketURL
            } else {
                bucketURL = "https://\(service)/\(encodedBucket)"
                objectURLBase = bucketURL + "/"
            }
            label = url
        }
    }

    /// What the CLI calls: resolves credentials, region and endpoint (see `AWSConfiguration`) with the remote's
    /// `endpoint` and `region` from `pipeline.yaml`, then makes the remote.
    public static func make(
        url: String, endpoint: String?, region: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment, home: String = NSHomeDirectory(),
        client: HTTPClient = HTTPClient()
    ) throws -> S3Remote {
        let configuration = try AWSConfiguration.resolve(
            environment: environment, home: home, remoteEndpoint: endpoint, remoteRegion: region)
        return try S3Remote(url: url, configuration: configuration, client: client)
    }

    // MARK: - RemoteStorage

    /// ListObjectsV2 over `PREFIX/prefix`, page after page (1,000 keys each).
    public func list(prefix: String) throws -> Set<String> {
        var keys = Set<String>()
        var continuation: String?
        repeat {
            var query: [(String, String?)] = [("list-type", "2"), ("prefix", keyPrefix + prefix)]
            if let continuation { query.append(("continuation-token", continuation)) }
            let call = S3Call(method: "GET", url: try makeURL(bucketURL, query: query))
            let page = try perform(call, key: nil) { response -> S3XMLNode in
                let body = try response.readAll(limit: 64 << 20)
                guard let root = S3XMLNode.parse(body), root.name == "ListBucketResult" else {
                    throw RemoteError.server(
                        remote: label, key: nil, status: response.head.status, code: "",
                        message: "ListObjectsV2 answered with something that is not a ListBucketResult")
                }
                return root
            }
            for entry in page.children("Contents") {
                guard let key = entry.child("Key")?.text, key.hasPrefix(keyPrefix) else { continue }
                keys.insert(String(key.dropFirst(keyPrefix.count)))
            }
            continuation = nil
            if page.string("IsTruncated") == "true" {
                guard let token = page.string("NextContinuationToken"), !token.isEmpty else {
                    throw RemoteError.server(
                        remote: label, key: nil, status: 200, code: "",
                        message: "ListObjectsV2 answered a truncated page without a continuation token")
                }
                continuation = token
            }
        } while continuation != nil
        return keys
    }

    /// HEAD: a missing object is 404. S3 answers HEAD without a body, so a 404 cannot tell a missing bucket
    /// from a missing object; the next PUT or GET names the bucket.
    public func exists(_ key: String) throws -> Bool {
        let call = S3Call(method: "HEAD", url: try objectURL(key))
        return try perform(call, key: key, accepting: [404]) { response in response.head.status != 404 }
    }

    public func get(_ key: String, to path: String, onBytes: ((Int) -> Void)?) throws -> Digest? {
        let writer = try HashingFileWriter(path: path, flush: false)
        do {
            let call = S3Call(method: "GET", url: try objectURL(key))
            let found = try perform(call, key: key, accepting: [404]) { response -> Bool in
                if response.head.status == 404 {
                    let answer = try errorResponse(response)
                    if answer.code == "NoSuchBucket" { throw answer }
                    return false
                }
                if writer.byteCount > 0 { try writer.restart() }
                try response.readBody { chunk in
                    try writer.write(chunk)
                    onBytes?(chunk.count)
                }
                return true
            }
            guard found else {
                unlink(path)
                return nil
            }
            return try writer.finish()
        } catch {
            unlink(path)  // the writer's deinit closes the file
            throw error
        }
    }

    /// One PUT up to `multipartThreshold`, signed with `sha256` so that S3 refuses a body that does not hash
    /// to it; a multipart upload above.
    public func put(_ key: String, file path: String, size: Int64, sha256: Digest, onBytes: ((Int) -> Void)?) throws {
        try checkSize(of: path, is: size)
        guard size <= multipartThreshold else {
            try putInParts(key, file: path, size: size, onBytes: onBytes)
            return
        }
        let call = S3Call(
            method: "PUT", url: try objectURL(key), headers: [("Content-Type", "application/octet-stream")],
            body: .file(path: path, offset: 0, length: size), payloadSHA256: sha256.hex)
        try perform(call, key: key, onBodyBytes: onBytes) { response in try response.discardBody() }
    }

    /// DeleteObjects, 1,000 keys a request (S3's limit); a key already gone is not an error.
    public func delete(_ keys: [String]) throws {
        for start in stride(from: 0, to: keys.count, by: 1000) {
            try deleteBatch(Array(keys[start..<min(start + 1000, keys.count)]))
        }
    }

    private func deleteBatch(_ keys: [String]) throws {
        let objects = keys.map { "<Object><Key>\(xmlEscaped(keyPrefix + $0))</Key></Object>" }.joined()
        let document =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
            + "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>\(objects)</Delete>"
        let body = Array(document.utf8)
        let call = S3Call(
            method: "POST", url: try makeURL(bucketURL, query: [("delete", nil)]),
            headers: [("Content-MD5", contentMD5(body)), ("Content-Type", "application/xml")], body: .bytes(body),
            payloadSHA256: Digest.of(Data(body)).hex)
        try perform(call, key: nil) { response in
            let answer = try response.readAll(limit: 16 << 20)
            guard let root = S3XMLNode.parse(answer) else {
                throw RemoteError.server(
                    remote: label, key: nil, status: response.head.status, code: "",
                    message: "DeleteObjects answered with something that is not XML")
            }
            if root.name == "Error" {
                throw S3ErrorResponse(
                    status: response.head.status, code: root.string("Code") ?? "", message: root.string("Message") ?? ""
                )
            }
            for failure in root.children("Error") where failure.string("Code") != "NoSuchKey" {
                let key = failure.child("Key")?.text ?? ""
                let failed = S3ErrorResponse(
                    status: response.head.status, code: failure.string("Code") ?? "",
                    message: failure.string("Message") ?? "")
                if failed.isRetryable { throw failed }  // the whole batch again: deleting twice is harmless
                throw mapped(failed, key: key.hasPrefix(keyPrefix) ? String(key.dropFirst(keyPrefix.count)) : key)
            }
        }
    }

    // MARK: - Requests

    /// `s3://BUCKET[/PREFIX]` → the bucket and `""` or `PREFIX/`.
    static func parse(_ url: String) throws -> (bucket: String, prefix: String) {
        guard url.hasPrefix("s3://") else {
            throw RemoteError.badConfiguration("'\(url)' is not an S3 URL (expected s3://BUCKET/PREFIX)")
        }
        let rest = url.dropFirst("s3://".count)
        let bucket = String(rest.prefix { $0 != "/" })
        guard !bucket.isEmpty else {
            throw RemoteError.badConfiguration("'\(url)' names no bucket (expected s3://BUCKET/PREFIX)")
        }
        let prefix = rest.dropFirst(bucket.count).split(separator: "/").joined(separator: "/")
        return (bucket, prefix.isEmpty ? "" : prefix + "/")
    }

    /// Whether the bucket name can be a host name label sequence (S3's rules for virtual-hosted addressing).
    static func isDNSCompatible(_ bucket: String) -> Bool {
        let bytes = Array(bucket.utf8)
        guard (3...63).contains(bytes.count) else { return false }
        func isAlphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        guard let first = bytes.first, let last = bytes.last, isAlphanumeric(first), isAlphanumeric(last) else {
            return false
        }
        guard bytes.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }),
            !bucket.contains(".."), !bucket.contains(".-"), !bucket.contains("-.")
        else { return false }
        let looksLikeAddress = bucket.split(separator: ".").count == 4 && bucket.allSatisfy { $0.isNumber || $0 == "." }
        return !looksLikeAddress
    }

    func objectURL(_ key: String, query: [(String, String?)] = []) throws -> URL {
        try makeURL(objectURLBase + AWSURIEncoding.encodePath(keyPrefix + key), query: query)
    }

    /// The query is sent encoded and sorted exactly as Signature V4 canonicalises it, so that what is signed is
    /// byte for byte what is sent; a nil value is a bare name (`?uploads`).
    func makeURL(_ base: String, query: [(String, String?)]) throws -> URL {
        var text = base
        if !query.isEmpty {
            let items = query.map { (AWSURIEncoding.encode($0.0), $0.1.map(AWSURIEncoding.encode)) }
                .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : ($0.1 ?? "") < ($1.1 ?? "") }
            text += "?" + items.map { name, value in value.map { "\(name)=\($0)" } ?? name }.joined(separator: "&")
        }
        guard let url = URL(string: text) else {
            throw RemoteError.badConfiguration("\(label): cannot make a URL of '\(text)'")
        }
        return url
    }

    /// Sends `call` until it succeeds or fails for good (`retryPolicy`), signing each attempt afresh. A 2xx
    /// answer, or one with a status in `accepted`, goes to `handle`; any other is read as an S3 error. `handle`
    /// may throw a `TransportError` (a body cut short) or an `S3ErrorResponse` (an error inside a 200), which are
    /// retried like the others. What finally fails is a `RemoteError`.
    @discardableResult
    func perform<T>(
        _ call: S3Call, key: String?, accepting accepted: Set<Int> = [], onBodyBytes: ((Int) -> Void)? = nil,
        _ handle: (HTTPResponse) throws -> T
    ) throws -> T {
        var attempt = 1
        while true {
            do {
                var request = HTTPRequest(method: call.method, url: call.url, headers: call.headers, body: call.body)
                signer?.sign(&request, payloadSHA256: call.payloadSHA256)
                let response = try client.send(request, onBodyBytes: onBodyBytes)
                let status = response.head.status
                guard (200..<300).contains(status) || accepted.contains(status) else {
                    throw try errorResponse(response)
                }
                return try handle(response)
            } catch {
                guard attempt < retryPolicy.attempts, Self.isRetryable(error) else { throw mapped(error, key: key) }
                Thread.sleep(forTimeInterval: retryPolicy.delay(beforeRetry: attempt))
                attempt += 1
            }
        }
    }

    /// Reads an error answer's (small) body for S3's code and message.
    func errorResponse(_ response: HTTPResponse) throws -> S3ErrorResponse {
        let body = try response.readAll(limit: 1 << 20)
        return S3ErrorResponse(
            status: response.head.status, reason: response.head.reason, body: body,
            bucketRegionHeader: response.head.header("x-amz-bucket-region"))
    }

    static func isRetryable(_ error: Error) -> Bool {
        switch error {
        case let answer as S3ErrorResponse: return answer.isRetryable
        case TransportError.network: return true
        default: return false
        }
    }

    /// The `RemoteError` a failure finally is: names the remote, the key and the access key id, never a secret.
    func mapped(_ error: Error, key: String?) -> Error {
        switch error {
        case let answer as S3ErrorResponse:
            if answer.status == 403
                || ["AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId"].contains(answer.code)
            {
                let message =
                    answer.code.isEmpty
                    ? "no reason given (HEAD answers have no body): a wrong secret, an unknown access key id or a "
                        + "missing permission" : answer.message
                return RemoteError.accessDenied(
                    remote: label, accessKeyID: configuration.credentials?.accessKeyID,
                    code: answer.code.isEmpty ? "Forbidden" : answer.code, message: message)
            }
            if answer.code == "NoSuchBucket" { return RemoteError.noSuchBucket(remote: label, bucket: bucket) }
            var message = answer.message
            if let region = answer.bucketRegion, region != configuration.region {
                message += " (the bucket is in \(region), not \(configuration.region): set `region: \(region)`)"
            }
            return RemoteError.server(
                remote: label, key: key, status: answer.status, code: answer.code, message: message)
        case let failure as TransportError:
            switch failure {
            case .network(_, let reason), .untrustedServer(_, let reason):
                return RemoteError.unreachable(remote: label, reason: reason)
            case .httpStatus(_, let status, let reason):
                return RemoteError.server(remote: label, key: key, status: status, code: "", message: reason)
            }
        default:
            return error
        }
    }

    /// Fails before any request for a file that cannot be read or changed size: the client would report those
    /// as network failures, retry them, and name the server instead of the file.
    private func checkSize(of path: String, is size: Int64) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RemoteError.localFile(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw RemoteError.localFile(path: path, reason: String(cString: strerror(errno)))
        }
        guard Int64(info.st_size) == size else {
            throw RemoteError.localFile(
                path: path, reason: "is \(info.st_size) bytes, not the \(size) it had when it was hashed")
        }
    }
}

/// One S3 request before signing.
struct S3Call {
    var method: String
    var url: URL
    var headers: [(name: String, value: String)] = []
    var body: HTTPRequestBody = .none
    var payloadSHA256 = SignatureV4.emptyPayloadSHA256
}

/// How often and how patiently a request is tried.
public struct S3RetryPolicy: Sendable {
    /// Attempts in all, the first included.
    public var attempts: Int
    public var baseDelay: TimeInterval
    public var maxDelay: TimeInterval

    public init(attempts: Int = 5, baseDelay: TimeInterval = 0.2, maxDelay: TimeInterval = 5) {
        self.attempts = max(attempts, 1)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// Five attempts, 0.2 s doubling: at most about 3 s of waiting in all.
    public static let standard = S3RetryPolicy()

    /// Exponential backoff with jitter: half of `baseDelay · 2^(n-1)` (capped) plus a random share of the other
    /// half, so that many threads throttled at once do not come back at once.
    func delay(beforeRetry retry: Int) -> TimeInterval {
        let ceiling = min(maxDelay, baseDelay * pow(2, Double(max(retry - 1, 0))))
        return ceiling / 2 + Double.random(in: 0...(ceiling / 2))
    }
}
