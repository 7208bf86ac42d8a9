import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 server on 127.0.0.1 (an ephemeral port) for the `ecg.fetch` tests. It serves the files of a
/// directory, honours `Range: bytes=N-` and `bytes=N-M`, records every request, and misbehaves on request:
/// serves a file with one byte flipped, answers 404, drops the connection after some body bytes, or ignores
/// `Range` as some servers do. One thread accepts; each connection gets a thread and is closed after the response.
final class LoopbackHTTPServer: @unchecked Sendable {
    struct Request: Equatable {
        var path: String
        var range: String?
    }

    let root: URL
    private(set) var port: UInt16 = 0
    private let listener: Int32
    private let lock = NSLock()
    private var log: [Request] = []
    private var corrupted: Set<String> = []
    private var missing: Set<String> = []
    private var drops: [String: (afterBytes: Int, remaining: Int)] = [:]
    private var ignoringRange = false
    private let stopped = DispatchSemaphore(value: 0)

    /// The base URL, ending in `/`.
    var base: String { "http://127.0.0.1:\(port)/" }

    init(root: URL) throws {
        self.root = root
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw ServerError("socket: \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 64) == 0 else {
            close(listener)
            throw ServerError("bind/listen: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Stops accepting and waits for the accept thread to end.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        stopped.wait()
        close(listener)
    }

    /// Every request so far, in arrival order.
    var requests: [Request] { locked { log } }

    func requests(for path: String) -> [Request] { requests.filter { $0.path == path } }

    /// Serves `path` with the byte in its middle inverted.
    func corrupt(_ path: String) { locked { _ = corrupted.insert(path) } }

    /// Answers 404 for `path`, as if it did not exist.
    func respondNotFound(_ path: String) { locked { _ = missing.insert(path) } }

    /// The next `times` responses for `path` close the connection after `afterBytes` bytes of body.
    func drop(_ path: String, afterBytes: Int, times: Int) { locked { drops[path] = (afterBytes, times) } }

    func stopDropping() { locked { drops = [:] } }

    /// Answers 200 with the whole file even to a `Range` request.
    func ignoreRange() { locked { ignoringRange = true } }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                break
            }
            let thread = Thread { [self] in
                respond(on: connection)
                close(connection)
            }
            thread.start()
        }
        stopped.signal()
    }

    private func respond(on connection: Int32) {
        guard let head = readHead(connection) else { return }
        let lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.first?.split(separator: " ") ?? []
        guard requestLine.count >= 2, requestLine[0] == "GET" else {
            send(connection, status: "405 Method Not Allowed", headers: [], body: Data())
            return
        }
        let rawPath = String(requestLine[1].dropFirst())
        let path = rawPath.removingPercentEncoding ?? rawPath
        let range = lines.dropFirst().first { $0.lowercased().hasPrefix("range:") }
            .map { String($0.dropFirst("range:".count)).trimmingCharacters(in: .whitespaces) }
        let (isMissing, isCorrupted, drop, ignoresRange) = locked { () -> (Bool, Bool, Int?, Bool) in
            log.append(Request(path: path, range: range))
            var drop: Int?
            if let rule = drops[path], rule.remaining > 0 {
                drops[path] = (rule.afterBytes, rule.remaining - 1)
                drop = rule.afterBytes
            }
            return (missing.contains(path), corrupted.contains(path), drop, ignoringRange)
        }
        let file = root.appendingPathComponent(path)
        guard !isMissing, !path.contains(".."), var data = try? Data(contentsOf: file) else {
            send(connection, status: "404 Not Found", headers: [], body: Data("not found\n".utf8))
            return
        }
        if isCorrupted, !data.isEmpty { data[data.count / 2] ^= 0xFF }
        var status = "200 OK"
        var headers: [String] = []
        var body = data
        if let range, !ignoresRange, let bounds = Self.parseRange(range) {
            guard bounds.start < data.count else {
                send(
                    connection, status: "416 Range Not Satisfiable", headers: ["Content-Range: bytes */\(data.count)"],
                    body: Data())
                return
            }
            let end = min(bounds.end ?? (data.count - 1), data.count - 1)
            body = data.subdata(in: bounds.start..<(end + 1))
            status = "206 Partial Content"
            headers.append("Content-Range: bytes \(bounds.start)-\(end)/\(data.count)")
        }
        send(connection, status: status, headers: headers, body: body, cutAfter: drop)
    }

    /// `bytes=N-` or `bytes=N-M`.
    private static func parseRange(_ value: String) -> (start: Int, end: Int?)? {
        guard value.hasPrefix("bytes=") else { return nil }
        let parts = value.dropFirst("bytes=".count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let start = Int(parts[0]) else { return nil }
        return (start, parts[1].isEmpty ? nil : Int(parts[1]))
    }

    private func readHead(_ connection: Int32) -> String? {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while received.count < 65_536 {
            let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return nil }
            received.append(contentsOf: chunk[0..<count])
            if let text = String(bytes: received, encoding: .utf8), let end = text.range(of: "\r\n\r\n") {
                return String(text[..<end.lowerBound])
            }
        }
        return nil
    }

    private func send(_ connection: Int32, status: String, headers: [String], body: Data, cutAfter: Int? = nil) {
        var head = "HTTP/1.1 \(status)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        for header in headers { head += header + "\r\n" }
        head += "\r\n"
        var bytes = Data(head.utf8)
        bytes.append(cutAfter.map { body.prefix($0) } ?? body)
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count, let base = raw.baseAddress {
                let sent = Glibc.send(connection, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if sent <= 0 { return }
                offset += sent
            }
        }
        if cutAfter != nil { shutdown(connection, Int32(SHUT_RDWR)) }
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }
}

struct ServerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
