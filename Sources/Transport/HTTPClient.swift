import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Why a request got no response: the URL and what went wrong, never a header (headers carry credentials).
public enum TransportError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Resolve, connect, TLS handshake, timeout, a connection reset, a body cut short. Worth retrying.
    case network(url: String, reason: String)
    /// The server's certificate did not verify (an untrusted issuer, a wrong host name): not worth retrying.
    case untrustedServer(url: String, reason: String)
    /// The server answered with an error status where the caller wanted a success.
    case httpStatus(url: String, status: Int, reason: String)

    public var description: String {
        switch self {
        case .network(let url, let reason), .untrustedServer(let url, let reason): return "\(url): \(reason)"
        case .httpStatus(let url, let status, let reason):
            return "\(url): HTTP \(status)\(reason.isEmpty ? "" : " \(reason)")"
        }
    }
}

/// What a request sends after its headers.
public enum HTTPRequestBody: Sendable {
    case none
    case bytes([UInt8])
    /// `length` bytes of the file at `path` from `offset`, streamed from disk (a multipart upload's part).
    case file(path: String, offset: Int64, length: Int64)

    var length: Int64 {
        switch self {
        case .none: return 0
        case .bytes(let bytes): return Int64(bytes.count)
        case .file(_, _, let length): return length
        }
    }
}

/// One HTTP/1.1 request. Header names are sent as given; `Host`, `Content-Length` and `Connection` are the
/// client's.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: [(name: String, value: String)]
    public var body: HTTPRequestBody

    public init(method: String, url: URL, headers: [(name: String, value: String)] = [], body: HTTPRequestBody = .none)
    {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// The status line and headers of a response.
public struct HTTPResponseHead: Sendable {
    public var status: Int
    public var reason: String
    /// Header names lowercased, in the order received.
    public var headers: [(name: String, value: String)]
    var isHTTP10 = false

    public func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }

    public var contentLength: Int64? {
        header("content-length").flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`), or `bytes */TOTAL` on a 416.
    public var contentRange: (start: Int64?, total: Int64?)? {
        guard let value = header("content-range"), value.hasPrefix("bytes ") else { return nil }
        let spec = value.dropFirst("bytes ".count)
        let parts = spec.split(separator: "/", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let start = parts[0].split(separator: "-").first.flatMap { Int64($0) }
        return (start, Int64(parts[1]))
    }

    /// Whether the server keeps the connection open after this response.
    var keepsConnection: Bool {
        let connection = header("connection")?.lowercased() ?? ""
        return isHTTP10 ? connection.contains("keep-alive") : !connection.contains("close")
    }
}

/// An HTTP/1.1 client over POSIX sockets, with TLS from OpenSSL's libssl and a pool of keep-alive connections.
///
/// Why not URLSession: FoundationNetworking is built on libcurl, and `swift build --static-swift-stdlib` links
/// `-lcurl`, which needs libcurl's development package that the project does not otherwise install. This client
/// needs only libssl, which comes with libssl-dev (already required for libcrypto).
///
/// Thread-safe: any number of threads send at once, each on a connection of its own; a connection goes back to
/// the pool once its response body has been read to the end. A request that fails on a pooled connection before
/// any byte of the response arrived (the server closed it while idle) is sent once more on a new connection.
public final class HTTPClient: @unchecked Sendable {
    /// Seconds a connect, a read or a write may wait before the request fails.
    public let timeout: TimeInterval
    public let userAgent: String
    public var maxRedirects = 5
    private let maxIdlePerServer: Int
    private let poolLock = NSLock()
    /// `scheme://host:port` → idle connections, the most recently used last.
    private var idle: [String: [HTTPConnection]] = [:]

    public init(timeout: TimeInterval = 30, userAgent: String = "pipe/1", maxIdlePerServer: Int = 32) {
        self.timeout = timeout
        self.userAgent = userAgent
        self.maxIdlePerServer = maxIdlePerServer
    }

    /// Sends one request (no redirects followed) and returns the response with its body still unread.
    /// Errors are transport failures; an HTTP error status is a response.
    public func send(_ request: HTTPRequest, onBodyBytes: ((Int) -> Void)? = nil) throws -> HTTPResponse {
        let target = try HTTPTarget(request.url)
        let head = requestHead(request, target: target)
        if let pooled = takeIdle(target) {
            do {
                return try exchange(request, head: head, on: pooled, target: target, onBodyBytes: onBodyBytes)
            } catch let error as TransportError where !pooled.receivedSinceRequest {
                _ = error  // the server closed the idle connection: a new one below
            }
        }
        let connection = try HTTPConnection(target: target, timeout: timeout)
        return try exchange(request, head: head, on: connection, target: target, onBodyBytes: onBodyBytes)
    }

    /// Sends `GET url` (with `Range: bytes=rangeStart-` when given), follows redirects, and returns the final
    /// response with its body still unread.
    public func get(_ url: URL, rangeStart: Int64? = nil) throws -> HTTPResponse {
        var current = url
        var headers: [(name: String, value: String)] = [("Accept", "*/*"), ("Accept-Encoding", "identity")]
        if let rangeStart { headers.append(("Range", "bytes=\(rangeStart)-")) }
        for _ in 0...maxRedirects {
            let response = try send(HTTPRequest(method: "GET", url: current, headers: headers))
            guard [301, 302, 303, 307, 308].contains(response.head.status) else { return response }
            guard let location = response.head.header("location"),
                let next = URL(string: location, relativeTo: current)?.absoluteURL
            else {
                throw TransportError.network(
                    url: current.absoluteString, reason: "HTTP \(response.head.status) without a usable Location")
            }
            try? response.discardBody()
            current = next
        }
        throw TransportError.network(url: url.absoluteString, reason: "more than \(maxRedirects) redirects")
    }

    /// The whole body of `GET url`, or nil on 404 and 410; another non-2xx status is an error.
    public func getData(_ url: URL, limit: Int = 64 << 20) throws -> Data? {
        let response = try get(url)
        switch response.head.status {
        case 200..<300: return try response.readAll(limit: limit)
        case 404, 410:
            try? response.discardBody()
            return nil
        default:
            throw TransportError.httpStatus(
                url: url.absoluteString, status: response.head.status, reason: response.head.reason)
        }
    }

    /// Closes every idle connection.
    public func closeIdleConnections() {
        poolLock.lock()
        idle.removeAll()
        poolLock.unlock()
    }

    // MARK: - Private

    private func requestHead(_ request: HTTPRequest, target: HTTPTarget) -> [UInt8] {
        var text = "\(request.method) \(target.requestPath) HTTP/1.1\r\nHost: \(target.hostHeader)\r\n"
        text += "User-Agent: \(userAgent)\r\n"
        for (name, value) in request.headers { text += "\(name): \(value)\r\n" }
        let hasBody: Bool
        if case .none = request.body {
            hasBody = ["PUT", "POST", "PATCH"].contains(request.method)
        } else {
            hasBody = true
        }
        if hasBody { text += "Content-Length: \(request.body.length)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    private func exchange(
        _ request: HTTPRequest, head: [UInt8], on connection: HTTPConnection, target: HTTPTarget,
        onBodyBytes: ((Int) -> Void)?
    ) throws -> HTTPResponse {
        connection.startRequest(url: target.urlText)
        try connection.write(head)
        try writeBody(request.body, to: connection, url: target.urlText, onBytes: onBodyBytes)
        let responseHead = try connection.readHead()
        let hasNoBody =
            request.method == "HEAD" || responseHead.status == 204 || responseHead.status == 304
        return HTTPResponse(
            url: request.url, head: responseHead, connection: connection, hasNoBody: hasNoBody,
            release: { [weak self] connection in self?.putIdle(connection, key: target.poolKey) })
    }

    private func writeBody(
        _ body: HTTPRequestBody, to connection: HTTPConnection, url: String, onBytes: ((Int) -> Void)?
    ) throws {
        switch body {
        case .none: return
        case .bytes(let bytes):
            try connection.write(bytes)
            onBytes?(bytes.count)
        case .file(let path, let offset, let length):
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw TransportError.network(
                    url: url, reason: "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            defer { close(fd) }
            let chunkSize = 1 << 20
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64)
            defer { buffer.deallocate() }
            var sent: Int64 = 0
            while sent < length {
                let want = Int(min(Int64(chunkSize), length - sent))
                let count = pread(fd, buffer.baseAddress, want, off_t(offset + sent))
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else {
                    let reason = count < 0 ? String(cString: strerror(errno)) : "the file ended early"
                    throw TransportError.network(url: url, reason: "cannot read \(path): \(reason)")
                }
                try connection.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                sent += Int64(count)
                onBytes?(count)
            }
        }
    }

    private func takeIdle(_ target: HTTPTarget) -> HTTPConnection? {
        poolLock.lock()
        defer { poolLock.unlock() }
        while let connection = idle[target.poolKey]?.popLast() {
            if connection.isIdleAndOpen { return connection }
        }
        return nil
    }

    private func putIdle(_ connection: HTTPConnection, key: String) {
        poolLock.lock()
        defer { poolLock.unlock() }
        var list = idle[key, default: []]
        guard list.count < maxIdlePerServer else { return }
        list.append(connection)
        idle[key] = list
    }
}

/// A response whose body is read once, in chunks, straight from the connection. Reading it to the end hands
/// the connection back to the client's pool; a response dropped before that closes its connection.
public final class HTTPResponse {
    public let url: URL
    public let head: HTTPResponseHead
    private var connection: HTTPConnection?
    private let hasNoBody: Bool
    private let release: (HTTPConnection) -> Void

    init(
        url: URL, head: HTTPResponseHead, connection: HTTPConnection, hasNoBody: Bool,
        release: @escaping (HTTPConnection) -> Void
    ) {
        self.url = url
        self.head = head
        self.connection = connection
        self.hasNoBody = hasNoBody
        self.release = release
        if hasNoBody { finish() }
    }

    /// Streams the body to `sink`; throws when the connection ends before the body does.
    public func readBody(_ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let connection else { return }
        self.connection = nil  // a failure below leaves the connection unusable: it closes with this response
        var reusable = head.keepsConnection
        if head.header("transfer-encoding")?.lowercased().contains("chunked") == true {
            while true {
                let sizeLine = try connection.readLine()
                let hex = sizeLine.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                guard let size = Int64(hex, radix: 16), size >= 0 else {
                    throw TransportError.network(url: url.absoluteString, reason: "malformed chunk size '\(sizeLine)'")
                }
                if size == 0 {
                    while try !connection.readLine().isEmpty {}  // trailers
                    break
                }
                try connection.readExactly(size, into: sink)
                guard try connection.readLine().isEmpty else {
                    throw TransportError.network(url: url.absoluteString, reason: "malformed chunk terminator")
                }
            }
        } else if let length = head.contentLength {
            try connection.readExactly(length, into: sink)
        } else {
            try connection.readToEnd(into: sink)
            reusable = false
        }
        if reusable { release(connection) }
    }

    /// The whole body; more than `limit` bytes is an error.
    public func readAll(limit: Int = 64 << 20) throws -> Data {
        var data = Data()
        try readBody { chunk in
            data.append(contentsOf: chunk)
            if data.count > limit {
                throw TransportError.network(url: url.absoluteString, reason: "body larger than \(limit) bytes")
            }
        }
        return data
    }

    /// Reads and drops a (small) body, so that the connection can serve the next request.
    public func discardBody() throws {
        if let length = head.contentLength, length > 1 << 20 {
            connection = nil  // cheaper to open a new connection than to drain a large body
            return
        }
        try readBody { _ in }
    }

    private func finish() {
        guard let connection else { return }
        self.connection = nil
        if head.keepsConnection { release(connection) }
    }
}
