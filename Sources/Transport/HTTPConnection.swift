import CLibSSL
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Scheme, host, port and request path of an http(s) URL.
struct HTTPTarget {
    var isTLS: Bool
    var host: String
    var port: Int
    var requestPath: String
    var urlText: String

    init(_ url: URL) throws {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: true),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else { throw TransportError.network(url: url.absoluteString, reason: "not an http(s) URL with a host") }
        isTLS = scheme == "https"
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        port = components.port ?? (isTLS ? 443 : 80)
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        requestPath = path + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        urlText = url.absoluteString
    }

    /// Connections are pooled per scheme, host and port.
    var poolKey: String { "\(isTLS ? "https" : "http")://\(host):\(port)" }

    var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (isTLS ? 443 : 80) ? name : "\(name):\(port)"
    }
}

/// One TCP connection, optionally TLS, with a read buffer. Closed on deinit.
///
/// Used by one thread at a time: the client hands it to one request, and back to its pool once that response's
/// body has been read to the end.
final class HTTPConnection {
    private let fd: Int32
    private var ssl: OpaquePointer?
    /// The URL of the request in flight, for messages.
    var urlText: String
    /// Whether any byte arrived since `startRequest`: a reused connection that fails before that was closed
    /// by the server while idle, and the request is safe to send again on a new one.
    private(set) var receivedSinceRequest = false
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var bufferStart = 0
    private var bufferEnd = 0

    init(target: HTTPTarget, timeout: TimeInterval) throws {
        urlText = target.urlText
        fd = try Self.connect(host: target.host, port: target.port, timeout: timeout, url: target.urlText)
        var interval = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        // A request is written as its head, then its body: with Nagle's algorithm the body would wait for the
        // server's delayed ACK of the head (40 ms on Linux), on every request of a keep-alive connection.
        var noDelay: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        if target.isTLS {
            do { try startTLS(host: target.host) } catch {
                close(fd)
                throw error
            }
        }
    }

    deinit {
        if let ssl {
            withSIGPIPEBlocked { _ = SSL_shutdown(ssl) }
            SSL_free(ssl)
        }
        close(fd)
    }

    private static func connect(host: String, port: Int, timeout: TimeInterval, url: String) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw TransportError.network(
                url: url, reason: "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let address = entry {
            entry = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else {
                lastError = String(cString: strerror(errno))
                continue
            }
            // Non-blocking connect, so that an unreachable host fails after `timeout`, not the kernel's minutes.
            let flags = fcntl(fd, F_GETFL, 0)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var result = Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen)
            if result != 0 && errno == EINPROGRESS {
                var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&poller, 1, Int32(timeout * 1000))
                if ready == 1 {
                    var socketError: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &length)
                    errno = socketError
                    result = socketError == 0 ? 0 : -1
                } else {
                    errno = ready == 0 ? ETIMEDOUT : errno
                    result = -1
                }
            }
            if result == 0 {
                _ = fcntl(fd, F_SETFL, flags)
                return fd
            }
            lastError = String(cString: strerror(errno))
            close(fd)
        }
        throw TransportError.network(url: url, reason: "cannot connect to \(host):\(port): \(lastError)")
    }

    private func startTLS(host: String) throws {
        guard let context = TLSContext.shared.context, let ssl = SSL_new(context) else {
            throw TransportError.network(url: urlText, reason: "cannot set up TLS: \(Self.openSSLError())")
        }
        self.ssl = ssl
        SSL_set_fd(ssl, fd)
        _ = pipe_ssl_set_server_name(ssl, host)
        SSL_set_verify(ssl, SSL_VERIFY_PEER, nil)
        let isAddress = host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
        if isAddress {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
        } else {
            SSL_set1_host(ssl, host)
        }
        let result = withSIGPIPEBlocked { SSL_connect(ssl) }
        guard result == 1 else {
            let verify = SSL_get_verify_result(ssl)
            guard verify == X509_V_OK else {
                let reason = String(cString: X509_verify_cert_error_string(verify))
                throw TransportError.untrustedServer(
                    url: urlText, reason: "the certificate of \(host) did not verify: \(reason)")
            }
            throw TransportError.network(
                url: urlText, reason: "TLS handshake with \(host) failed: \(Self.openSSLError())")
        }
    }

    /// Marks the start of a new request on this connection.
    func startRequest(url: String) {
        urlText = url
        receivedSinceRequest = false
    }

    /// Whether the idle connection can take another request: nothing unread in the buffer, and the server has
    /// neither closed it nor sent anything unasked (either makes the socket readable).
    var isIdleAndOpen: Bool {
        guard bufferStart == bufferEnd else { return false }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&poller, 1, 0) == 0
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    func write(_ raw: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < raw.count, let base = raw.baseAddress {
            let count: Int
            if let ssl {
                count = Int(
                    withSIGPIPEBlocked { SSL_write(ssl, base + offset, Int32(min(raw.count - offset, 1 << 30))) })
            } else {
                count = send(fd, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if count <= 0 {
                if ssl == nil && errno == EINTR { continue }
                throw TransportError.network(url: urlText, reason: "cannot send the request: \(ioErrorText())")
            }
            offset += count
        }
    }

    /// Refills the buffer; returns false at the end of the stream.
    private func fill() throws -> Bool {
        bufferStart = 0
        bufferEnd = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                if let ssl { return Int(withSIGPIPEBlocked { SSL_read(ssl, base, Int32(raw.count)) }) }
                return recv(fd, base, raw.count, 0)
            }
            if count > 0 {
                bufferEnd = count
                receivedSinceRequest = true
                return true
            }
            if let ssl {
                let code = SSL_get_error(ssl, Int32(count))
                // A server that closes without close_notify ends the stream too: bodies are length-checked.
                if code == SSL_ERROR_ZERO_RETURN || (code == SSL_ERROR_SYSCALL && errno == 0) { return false }
                throw TransportError.network(url: urlText, reason: "read failed: \(ioErrorText())")
            }
            if count == 0 { return false }
            if errno == EINTR { continue }
            throw TransportError.network(url: urlText, reason: "read failed: \(ioErrorText())")
        }
    }

    /// One line without its CRLF.
    func readLine(limit: Int = 16 << 10) throws -> String {
        var line: [UInt8] = []
        while true {
            if bufferStart == bufferEnd {
                guard try fill() else {
                    throw TransportError.network(
                        url: urlText, reason: "connection closed in the middle of a header line")
                }
            }
            let byte = buffer[bufferStart]
            bufferStart += 1
            if byte == UInt8(ascii: "\n") {
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            line.append(byte)
            if line.count > limit { throw TransportError.network(url: urlText, reason: "header line too long") }
        }
    }

    func readHead() throws -> HTTPResponseHead {
        var statusLine = try readLine()
        // Skip interim 1xx responses (100 Continue and the like).
        while true {
            let fields = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            guard fields.count >= 2, fields[0].hasPrefix("HTTP/"), let status = Int(fields[1]) else {
                throw TransportError.network(url: urlText, reason: "malformed status line '\(statusLine.prefix(80))'")
            }
            var headers: [(name: String, value: String)] = []
            while true {
                let line = try readLine()
                if line.isEmpty { break }
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers.append(
                    (
                        line[..<colon].lowercased(),
                        line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    ))
            }
            if (100..<200).contains(status) {
                statusLine = try readLine()
                continue
            }
            return HTTPResponseHead(
                status: status, reason: fields.count > 2 ? String(fields[2]) : "", headers: headers,
                isHTTP10: fields[0] == "HTTP/1.0")
        }
    }

    func readExactly(_ length: Int64, into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var remaining = length
        while remaining > 0 {
            if bufferStart == bufferEnd {
                guard try fill() else {
                    throw TransportError.network(
                        url: urlText, reason: "connection closed after \(length - remaining) of \(length) bytes")
                }
            }
            let take = Int(min(Int64(bufferEnd - bufferStart), remaining))
            try buffer.withUnsafeBytes { raw in
                try sink(UnsafeRawBufferPointer(rebasing: raw[bufferStart..<(bufferStart + take)]))
            }
            bufferStart += take
            remaining -= Int64(take)
        }
    }

    func readToEnd(into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        while true {
            if bufferStart < bufferEnd {
                try buffer.withUnsafeBytes { raw in
                    try sink(UnsafeRawBufferPointer(rebasing: raw[bufferStart..<bufferEnd]))
                }
                bufferStart = bufferEnd
            }
            guard try fill() else { return }
        }
    }

    private func ioErrorText() -> String {
        if ssl != nil, ERR_peek_error() != 0 { return Self.openSSLError() }
        return errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : String(cString: strerror(errno))
    }

    static func openSSLError() -> String {
        let code = ERR_get_error()
        guard code != 0 else { return "unknown TLS error" }
        var text = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &text, text.count)
        ERR_clear_error()
        return String(cString: text)
    }
}

/// The process's one TLS client context: system trust store (OpenSSL's default paths, or `SSL_CERT_FILE`),
/// TLS 1.2 at least.
private final class TLSContext: @unchecked Sendable {
    static let shared = TLSContext()
    let context: OpaquePointer?

    private init() {
        let context = SSL_CTX_new(TLS_client_method())
        if let context {
            _ = pipe_ssl_ctx_require_tls12(context)
            pipe_ssl_ctx_ignore_unexpected_eof(context)
            SSL_CTX_set_default_verify_paths(context)
        }
        self.context = context
    }
}

/// Runs `body` with SIGPIPE blocked on this thread and drops a SIGPIPE it raised, so that a peer closing the
/// connection gives EPIPE instead of killing the process (OpenSSL writes with `write(2)`, not MSG_NOSIGNAL).
private func withSIGPIPEBlocked<T>(_ body: () -> T) -> T {
    var pipeOnly = sigset_t()
    sigemptyset(&pipeOnly)
    sigaddset(&pipeOnly, SIGPIPE)
    var previous = sigset_t()
    pthread_sigmask(SIG_BLOCK, &pipeOnly, &previous)
    var pendingBefore = sigset_t()
    sigpending(&pendingBefore)
    let alreadyPending = sigismember(&pendingBefore, SIGPIPE) == 1
    errno = 0
    let result = body()
    let bodyErrno = errno
    if !alreadyPending {
        var pending = sigset_t()
        sigpending(&pending)
        if sigismember(&pending, SIGPIPE) == 1 {
            var zero = timespec(tv_sec: 0, tv_nsec: 0)
            _ = sigtimedwait(&pipeOnly, nil, &zero)
        }
    }
    pthread_sigmask(SIG_SETMASK, &previous, nil)
    errno = bodyErrno
    return result
}
