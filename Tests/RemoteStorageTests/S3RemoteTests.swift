import ContentStore
import Foundation
import ServiceFixtures
import Transport
import XCTest

@testable import RemoteStorage

#if canImport(Glibc)
import Glibc
#endif

/// `S3Remote` against a real moto S3 server with Signature V4 checked (one server for the class). What the
/// remote writes is read back through boto3, never through the code under test.
final class S3RemoteTests: XCTestCase {
    private static let bucket = "pipe-remote-tests"
    nonisolated(unsafe) private static var server: S3TestServer?
    nonisolated(unsafe) private static var startFailure: Error?

    override class func setUp() {
        super.setUp()
        do { server = try S3TestServer.start(bucket: bucket) } catch { startFailure = error }
    }

    override class func tearDown() {
        server?.stop()
        server = nil
        super.tearDown()
    }

    private var server: S3TestServer!
    private var directory = ""
    /// Each test writes under a prefix of its own, so that tests sharing the server do not see each other.
    private var prefix = ""

    override func setUpWithError() throws {
        if let failure = Self.startFailure { throw failure }
        server = try XCTUnwrap(Self.server)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("s3-remote-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        prefix = "t-" + UUID().uuidString.prefix(8).lowercased()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: - Helpers

    private func configuration(secret: String? = nil) -> AWSConfiguration {
        AWSConfiguration(
            credentials: Credentials(
                accessKeyID: server.accessKeyID, secretAccessKey: secret ?? server.secretAccessKey),
            region: server.region, endpoint: server.endpoint)
    }

    private func remote(
        bucket: String? = nil, prefix: String? = nil, secret: String? = nil, endpoint: URL? = nil,
        multipartThreshold: Int64 = 64 << 20
    ) throws -> S3Remote {
        var configuration = configuration(secret: secret)
        if let endpoint { configuration.endpoint = endpoint }
        return try S3Remote(
            url: "s3://\(bucket ?? server.bucket)/\(prefix ?? self.prefix)", configuration: configuration,
            client: HTTPClient(timeout: 10), multipartThreshold: multipartThreshold, partSize: 5 << 20,
            retryPolicy: S3RetryPolicy(attempts: 3, baseDelay: 0.05))
    }

    /// Writes `data` to a new file; its path, digest and object key.
    private func file(_ data: Data, name: String = UUID().uuidString) throws -> (
        path: String, digest: Digest, key: String
    ) {
        let path = directory + "/" + name
        try data.write(to: URL(fileURLWithPath: path))
        let digest = Digest.of(data)
        return (path, digest, RemoteKey.object(digest))
    }

    private func randomData(_ count: Int) -> Data {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: count)
        for index in stride(from: 0, to: count, by: 8) {
            let word = generator.next()
            for offset in 0..<min(8, count - index) {
                bytes[index + offset] = UInt8(truncatingIfNeeded: word >> (offset * 8))
            }
        }
        return Data(bytes)
    }

    private func put(_ data: Data, to remote: S3Remote) throws -> (path: String, digest: Digest, key: String) {
        let source = try file(data)
        try remote.put(source.key, file: source.path, size: Int64(data.count), sha256: source.digest, onBytes: nil)
        return source
    }

    // MARK: - Objects

    func testPutThenGetRoundTripsAndBoto3ReadsTheDocumentedKey() throws {
        let remote = try remote()
        let data = randomData(300_000)
        let source = try put(data, to: remote)
        XCTAssertEqual(
            try server.objectBytes(
                key: "\(prefix)/objects/\(source.digest.hex.prefix(2))/\(source.digest.hex.dropFirst(2))"), data)

        let target = directory + "/downloaded"
        var reported = 0
        let digest = try remote.get(source.key, to: target) { reported += $0 }
        XCTAssertEqual(digest, source.digest)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target)), data)
        XCTAssertEqual(reported, data.count)
    }

    func testEmptyObjectRoundTrips() throws {
        let remote = try remote()
        let source = try put(Data(), to: remote)
        XCTAssertEqual(try server.objectBytes(key: "\(prefix)/\(source.key)"), Data())
        XCTAssertEqual(try remote.get(source.key, to: directory + "/empty", onBytes: nil), source.digest)
    }

    func testGetOfAMissingObjectIsNilAndLeavesNoFile() throws {
        let remote = try remote()
        let target = directory + "/missing"
        try Data("stale".utf8).write(to: URL(fileURLWithPath: target))
        XCTAssertNil(try remote.get(RemoteKey.object(Digest.of("never uploaded")), to: target, onBytes: nil))
        XCTAssertFalse(FileManager.default.fileExists(atPath: target))
    }

    func testExistsIsTrueForAnUploadedObjectAndFalseOtherwise() throws {
        let remote = try remote()
        let source = try put(Data("present".utf8), to: remote)
        XCTAssertTrue(try remote.exists(source.key))
        XCTAssertFalse(try remote.exists(RemoteKey.object(Digest.of("absent"))))
    }

    func testOverwrittenObjectDownloadsWithADigestThatIsNotItsKey() throws {
        let remote = try remote()
        let source = try put(Data("the original bytes".utf8), to: remote)
        let tampered = Data("other bytes".utf8)
        try server.putObject(key: "\(prefix)/\(source.key)", data: tampered)
        let digest = try remote.get(source.key, to: directory + "/tampered", onBytes: nil)
        XCTAssertEqual(digest, Digest.of(tampered))
        XCTAssertNotEqual(digest, source.digest)
    }

    func testDeleteRemovesObjectsAndIgnoresAbsentOnes() throws {
        let remote = try remote()
        let kept = try put(Data("kept".utf8), to: remote)
        let removed = try (0..<3).map { try put(Data("removed \($0)".utf8), to: remote) }
        try remote.delete(removed.map(\.key) + [RemoteKey.object(Digest.of("never there"))])
        XCTAssertEqual(try server.listKeys(prefix: prefix + "/"), ["\(prefix)/\(kept.key)"])
        try remote.delete([])
    }

    func testListFollowsContinuationPagesBeyondAThousandKeys() throws {
        // Written with boto3 (batched in one process): only the listing is under test here.
        let count = 1_234
        _ = try server.boto3(
            """
            import concurrent.futures, hashlib
            def put(i):
                h = hashlib.sha256(str(i).encode()).hexdigest()
                s3.put_object(Bucket=bucket, Key=f"\(prefix)/objects/{h[:2]}/{h[2:]}", Body=b"")
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                list(pool.map(put, range(\(count))))
            s3.put_object(Bucket=bucket, Key="\(prefix)/runs/aa/bb", Body=b"")
            """)
        let remote = try remote()
        let keys = try remote.list(prefix: RemoteKey.objectsPrefix)
        let expected = Set((0..<count).map { RemoteKey.object(Digest.of(String($0))) })
        XCTAssertEqual(keys.count, count)
        XCTAssertEqual(keys, expected)
        XCTAssertEqual(try remote.list(prefix: RemoteKey.runCachePrefix), ["runs/aa/bb"])
    }

    func testRemoteAtTheBucketRootUsesUnprefixedKeys() throws {
        let remote = try remote(prefix: "")
        let source = try put(Data("at the root \(prefix)".utf8), to: remote)
        defer { try? remote.delete([source.key]) }
        XCTAssertEqual(try server.objectBytes(key: source.key), Data("at the root \(prefix)".utf8))
        XCTAssertTrue(try remote.list(prefix: RemoteKey.objectsPrefix).contains(source.key))
    }

    func testPrefixWithCharactersThatNeedEncodingSignsAndRoundTrips() throws {
        let odd = "\(prefix)/team cache+1=ü"
        let remote = try remote(prefix: odd)
        let source = try put(Data("encoded".utf8), to: remote)
        XCTAssertEqual(try server.objectBytes(key: "\(odd)/\(source.key)"), Data("encoded".utf8))
        XCTAssertEqual(try remote.list(prefix: RemoteKey.objectsPrefix), [source.key])
        XCTAssertTrue(try remote.exists(source.key))
    }

    func testConcurrentPutsAndGetsFromManyThreads() throws {
        let remote = try remote()
        let contents = (0..<24).map { Data("object \($0) of \(prefix)".utf8) }
        let sources = try contents.map { try file($0) }
        let failures = FailureLog()
        DispatchQueue.concurrentPerform(iterations: sources.count) { index in
            let source = sources[index]
            do {
                try remote.put(
                    source.key, file: source.path, size: Int64(contents[index].count), sha256: source.digest,
                    onBytes: nil)
                let digest = try remote.get(source.key, to: source.path + ".back", onBytes: nil)
                if digest != source.digest { failures.add("\(source.key) came back as \(String(describing: digest))") }
                if try !remote.exists(source.key) { failures.add("\(source.key) does not exist") }
                if try !remote.list(prefix: RemoteKey.objectsPrefix).contains(source.key) {
                    failures.add("\(source.key) is not listed")
                }
            } catch {
                failures.add("\(error)")
            }
        }
        XCTAssertEqual(failures.messages, [])
        XCTAssertEqual(try remote.list(prefix: RemoteKey.objectsPrefix), Set(sources.map(\.key)))
    }

    // MARK: - Multipart

    func testMultipartUploadAboveTheThresholdIsReadBackIdenticalByBoto3() throws {
        let remote = try remote(multipartThreshold: 6 << 20)
        let data = randomData((12 << 20) + 12_345)  // three parts: 5 MiB, 5 MiB, the rest
        var sent = 0
        let source = try file(data)
        try remote.put(source.key, file: source.path, size: Int64(data.count), sha256: source.digest) { sent += $0 }
        XCTAssertEqual(sent, data.count)
        XCTAssertEqual(try server.objectBytes(key: "\(prefix)/\(source.key)"), data)
        let facts = try server.boto3(
            """
            key = "\(prefix)/\(source.key)"
            print(s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"').split("-")[-1])
            print(len(s3.list_multipart_uploads(Bucket=bucket, Prefix="\(prefix)/").get("Uploads", [])))
            """
        ).split(separator: "\n")
        XCTAssertEqual(facts, ["3", "0"], "a 3-part ETag, and no upload left open")
        XCTAssertEqual(try remote.get(source.key, to: directory + "/multipart", onBytes: nil), source.digest)
    }

    func testFailedMultipartUploadIsAbortedAndShowsNoObject() throws {
        let remote = try remote(multipartThreshold: 6 << 20)
        let data = randomData(11 << 20)
        let source = try file(data)
        var sent = 0
        // The file shrinks once the first part has gone: the second part cannot be read.
        XCTAssertThrowsError(
            try remote.put(source.key, file: source.path, size: Int64(data.count), sha256: source.digest) { count in
                sent += count
                if sent >= 5 << 20 { truncate(source.path, 0) }
            }
        ) { error in
            guard case RemoteError.localFile(let path, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, source.path)
        }
        XCTAssertNil(try server.objectBytes(key: "\(prefix)/\(source.key)"))
        let open = try server.boto3(
            "print(len(s3.list_multipart_uploads(Bucket=bucket, Prefix=\"\(prefix)/\").get(\"Uploads\", [])))")
        XCTAssertEqual(open.trimmingCharacters(in: .whitespacesAndNewlines), "0", "the upload was aborted")
    }

    // MARK: - Retries

    func testDownloadCutShortIsRetriedFromTheStart() throws {
        let data = randomData(2 << 20)
        let source = try put(data, to: remote())
        let proxy = try CuttingProxy(to: server.endpoint, cutFirstResponseAfter: 700_000)
        defer { proxy.stop() }
        let remote = try remote(endpoint: proxy.endpoint)
        var reported = 0
        let target = directory + "/retried"
        XCTAssertEqual(try remote.get(source.key, to: target) { reported += $0 }, source.digest)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target)), data)
        XCTAssertEqual(proxy.connections, 2)
        XCTAssertGreaterThanOrEqual(reported, data.count + 600_000, "the cut attempt's bytes were reported too")
    }

    func testUploadCutShortIsSentAgainWhole() throws {
        let proxy = try CuttingProxy(to: server.endpoint, cutFirstRequestAfter: 300_000)
        defer { proxy.stop() }
        let remote = try remote(endpoint: proxy.endpoint)
        let data = randomData(1 << 20)
        let source = try put(data, to: remote)
        XCTAssertEqual(proxy.connections, 2)
        XCTAssertEqual(try server.objectBytes(key: "\(prefix)/\(source.key)"), data)
    }

    // MARK: - Errors

    func testWrongSecretIsAccessDeniedNamingTheAccessKeyIDNeverTheSecret() throws {
        let wrongSecret = server.secretAccessKey + "x"
        let remote = try remote(secret: wrongSecret)
        let source = try file(Data("refused".utf8))
        for attempt in [
            { try remote.put(source.key, file: source.path, size: 7, sha256: source.digest, onBytes: nil) },
            { _ = try remote.exists(source.key) },
            { _ = try remote.list(prefix: RemoteKey.objectsPrefix) },
        ] {
            XCTAssertThrowsError(try attempt()) { error in
                guard case RemoteError.accessDenied(_, let keyID, _, _) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(keyID, server.accessKeyID)
                let text = "\(error)"
                XCTAssertTrue(text.contains(server.accessKeyID), text)
                XCTAssertFalse(text.contains(server.secretAccessKey), text)
                XCTAssertTrue(text.contains("s3://\(server.bucket)/\(prefix) at 127.0.0.1:"), text)
            }
        }
        XCTAssertEqual(try server.listKeys(prefix: prefix + "/"), [])
    }

    func testWrongSecretOnPutReportsSignatureDoesNotMatch() throws {
        let remote = try remote(secret: server.secretAccessKey + "x")
        let source = try file(Data("refused".utf8))
        XCTAssertThrowsError(
            try remote.put(source.key, file: source.path, size: 7, sha256: source.digest, onBytes: nil)
        ) {
            guard case RemoteError.accessDenied(_, _, let code, _) = $0 else { return XCTFail("\($0)") }
            XCTAssertEqual(code, "SignatureDoesNotMatch")
        }
    }

    func testMissingBucketIsNoSuchBucket() throws {
        let remote = try remote(bucket: "pipe-no-such-bucket")
        let source = try file(Data("nowhere".utf8))
        XCTAssertThrowsError(try remote.list(prefix: RemoteKey.objectsPrefix)) { error in
            XCTAssertEqual(error as? RemoteError, .noSuchBucket(remote: remote.label, bucket: "pipe-no-such-bucket"))
        }
        XCTAssertThrowsError(
            try remote.put(source.key, file: source.path, size: 7, sha256: source.digest, onBytes: nil)
        ) {
            XCTAssertEqual($0 as? RemoteError, .noSuchBucket(remote: remote.label, bucket: "pipe-no-such-bucket"))
        }
        XCTAssertThrowsError(try remote.get(source.key, to: directory + "/x", onBytes: nil)) {
            XCTAssertEqual($0 as? RemoteError, .noSuchBucket(remote: remote.label, bucket: "pipe-no-such-bucket"))
        }
    }

    func testClosedPortIsUnreachableQuickly() throws {
        let port = try LoopbackPort.unused()
        let remote = try S3Remote(
            url: "s3://\(server.bucket)/\(prefix)",
            configuration: AWSConfiguration(
                credentials: Credentials(accessKeyID: "AKIA", secretAccessKey: "s"), region: "us-east-1",
                endpoint: URL(string: "http://127.0.0.1:\(port)")),
            client: HTTPClient(timeout: 5))
        let start = Date()
        XCTAssertThrowsError(try remote.exists(RemoteKey.object(Digest.of("x")))) { error in
            guard case RemoteError.unreachable(let remoteName, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(remoteName, "s3://\(server.bucket)/\(prefix) at 127.0.0.1:\(port)")
            XCTAssertTrue(reason.contains("refused"), reason)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "the standard retries wait about 3 s at most")
    }

    func testMakeFindsCredentialsInTheEnvironment() throws {
        let remote = try S3Remote.make(
            url: "s3://\(server.bucket)/\(prefix)", endpoint: server.endpoint.absoluteString, region: nil,
            environment: [
                "AWS_ACCESS_KEY_ID": server.accessKeyID, "AWS_SECRET_ACCESS_KEY": server.secretAccessKey,
                "AWS_REGION": server.region,
            ],
            home: directory)
        let source = try put(Data("through make".utf8), to: remote)
        XCTAssertTrue(try remote.exists(source.key))
        XCTAssertEqual(remote.configuration.credentialSource, "environment")
    }
}

/// A TCP relay to the S3 server on 127.0.0.1 that breaks its first connection after a number of bytes of the
/// request or of the response (a reset in the middle of a transfer), and relays every later one untouched. Not
/// a stand-in for S3: every byte that gets through comes from the real server.
private final class CuttingProxy: @unchecked Sendable {
    let endpoint: URL
    private let listener: Int32
    private let target: (host: String, port: UInt16)
    private let cutRequestAfter: Int?
    private let cutResponseAfter: Int?
    private let lock = NSLock()
    private var accepted = 0

    var connections: Int { lock.withLock { accepted } }

    init(to server: URL, cutFirstRequestAfter: Int? = nil, cutFirstResponseAfter: Int? = nil) throws {
        guard let host = server.host, let port = server.port else { throw XCTSkip("the server has no host:port") }
        target = (host, UInt16(port))
        cutRequestAfter = cutFirstRequestAfter
        cutResponseAfter = cutFirstResponseAfter
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = Self.address("127.0.0.1", 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 16) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard listening, let url = URL(string: "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))") else {
            close(listener)
            throw XCTSkip("cannot listen on 127.0.0.1")
        }
        self.listener = listener
        endpoint = url
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Stops accepting; relays in progress end when either side closes.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private static func address(_ host: String, _ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        address.sin_port = port.bigEndian
        return address
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let isFirst = lock.withLock {
                accepted += 1
                return accepted == 1
            }
            let cuts = isFirst ? (cutRequestAfter, cutResponseAfter) : (nil, nil)
            Thread.detachNewThread { [self] in relay(client, cutRequestAfter: cuts.0, cutResponseAfter: cuts.1) }
        }
    }

    private func relay(_ client: Int32, cutRequestAfter: Int?, cutResponseAfter: Int?) {
        defer { close(client) }
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(upstream) }
        var address = Self.address(target.host, target.port)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { return }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var relayed = [0, 0]  // client → server, server → client
        let limits = [cutRequestAfter, cutResponseAfter]
        var fds = [
            pollfd(fd: client, events: Int16(POLLIN), revents: 0),
            pollfd(fd: upstream, events: Int16(POLLIN), revents: 0),
        ]
        while poll(&fds, 2, 10_000) > 0 {
            for index in 0..<2 where fds[index].revents != 0 {
                let (from, to) = index == 0 ? (client, upstream) : (upstream, client)
                let want = min(buffer.count, limits[index].map { $0 - relayed[index] } ?? buffer.count)
                guard want > 0 else { return }  // the cut: both connections close
                let count = read(from, &buffer, want)
                guard count > 0, write(to, buffer, count) == count else { return }
                relayed[index] += count
            }
        }
    }
}

/// Messages collected from many threads.
private final class FailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [String] = []

    func add(_ message: String) { lock.withLock { collected.append(message) } }
    var messages: [String] { lock.withLock { collected } }
}

/// Addressing, URL parsing, error mapping and retry policy: no server needed.
final class S3RemoteAddressingTests: XCTestCase {
    private func remote(_ url: String, endpoint: String? = nil, region: String = "eu-west-1") throws -> S3Remote {
        try S3Remote(
            url: url,
            configuration: AWSConfiguration(
                credentials: Credentials(accessKeyID: "AKIATEST", secretAccessKey: "secret"), region: region,
                endpoint: endpoint.flatMap(URL.init(string:))))
    }

    func testAWSUsesVirtualHostedAddressing() throws {
        let remote = try remote("s3://team-cache/pipe")
        XCTAssertEqual(
            try remote.objectURL("objects/ab/cd").absoluteString,
            "https://team-cache.s3.eu-west-1.amazonaws.com/pipe/objects/ab/cd")
        XCTAssertEqual(remote.bucketURL, "https://team-cache.s3.eu-west-1.amazonaws.com/")
        XCTAssertEqual(remote.label, "s3://team-cache/pipe")
    }

    func testBucketNamesThatCannotBeHostNamesUsePathStyleOnAWS() throws {
        for bucket in ["Team_Cache", "team.cache", "ab"] {
            let remote = try remote("s3://\(bucket)/p")
            XCTAssertTrue(
                try remote.objectURL("k").absoluteString.hasPrefix("https://s3.eu-west-1.amazonaws.com/"), bucket)
        }
    }

    func testCustomEndpointUsesPathStyleAndNamesTheServer() throws {
        let remote = try remote("s3://bucket/a/b/", endpoint: "http://127.0.0.1:9000")
        XCTAssertEqual(
            try remote.objectURL("objects/ab/cd").absoluteString, "http://127.0.0.1:9000/bucket/a/b/objects/ab/cd")
        XCTAssertEqual(
            try remote.makeURL(remote.bucketURL, query: [("prefix", "a/b/objects/"), ("list-type", "2")])
                .absoluteString,
            "http://127.0.0.1:9000/bucket?list-type=2&prefix=a%2Fb%2Fobjects%2F")
        XCTAssertEqual(remote.label, "s3://bucket/a/b/ at 127.0.0.1:9000")
        XCTAssertEqual(remote.keyPrefix, "a/b/")
    }

    func testURLParsing() throws {
        XCTAssertEqual(try remote("s3://bucket").keyPrefix, "")
        XCTAssertEqual(try remote("s3://bucket/").keyPrefix, "")
        XCTAssertEqual(try remote("s3://bucket//x//y/").keyPrefix, "x/y/")
        XCTAssertThrowsError(try remote("s3:///prefix")) {
            XCTAssertTrue(($0 as? RemoteError)?.isConfigurationError == true)
        }
        XCTAssertThrowsError(try remote("gs://bucket")) {
            XCTAssertTrue(($0 as? RemoteError)?.isConfigurationError == true)
        }
    }

    func testErrorMapping() throws {
        let remote = try remote("s3://bucket/p", endpoint: "http://127.0.0.1:9000")
        let headForbidden = remote.mapped(S3ErrorResponse(status: 403, code: "", message: ""), key: "k")
        guard case RemoteError.accessDenied(_, "AKIATEST", "Forbidden", _) = headForbidden else {
            return XCTFail("\(headForbidden)")
        }
        XCTAssertEqual(
            remote.mapped(S3ErrorResponse(status: 404, code: "NoSuchBucket", message: "m"), key: nil) as? RemoteError,
            .noSuchBucket(remote: "s3://bucket/p at 127.0.0.1:9000", bucket: "bucket"))
        let wrongRegion = remote.mapped(
            S3ErrorResponse(
                status: 301, code: "PermanentRedirect", message: "Use the right endpoint.", bucketRegion: "us-west-2"),
            key: nil)
        XCTAssertTrue("\(wrongRegion)".contains("set `region: us-west-2`"), "\(wrongRegion)")
        let refused = remote.mapped(TransportError.network(url: "http://x", reason: "cannot connect"), key: nil)
        XCTAssertEqual(
            refused as? RemoteError, .unreachable(remote: "s3://bucket/p at 127.0.0.1:9000", reason: "cannot connect"))
    }

    func testRetriesOnThrottlingServerErrorsAndNetworkFailuresOnly() {
        XCTAssertTrue(S3Remote.isRetryable(S3ErrorResponse(status: 503, code: "SlowDown", message: "")))
        XCTAssertTrue(S3Remote.isRetryable(S3ErrorResponse(status: 500, code: "", message: "")))
        XCTAssertTrue(S3Remote.isRetryable(S3ErrorResponse(status: 429, code: "", message: "")))
        XCTAssertTrue(S3Remote.isRetryable(S3ErrorResponse(status: 400, code: "RequestTimeout", message: "")))
        XCTAssertTrue(S3Remote.isRetryable(S3ErrorResponse(status: 200, code: "InternalError", message: "")))
        XCTAssertTrue(S3Remote.isRetryable(TransportError.network(url: "u", reason: "reset")))
        XCTAssertFalse(S3Remote.isRetryable(S3ErrorResponse(status: 403, code: "SignatureDoesNotMatch", message: "")))
        XCTAssertFalse(S3Remote.isRetryable(S3ErrorResponse(status: 404, code: "NoSuchBucket", message: "")))
        XCTAssertFalse(S3Remote.isRetryable(TransportError.untrustedServer(url: "u", reason: "bad certificate")))
        XCTAssertFalse(S3Remote.isRetryable(RemoteError.localFile(path: "p", reason: "r")))
    }

    func testBackoffGrowsWithJitterAndIsCapped() {
        let policy = S3RetryPolicy(attempts: 5, baseDelay: 0.2, maxDelay: 1)
        for _ in 0..<100 {
            XCTAssertTrue((0.1...0.2).contains(policy.delay(beforeRetry: 1)))
            XCTAssertTrue((0.4...0.8).contains(policy.delay(beforeRetry: 3)))
            XCTAssertTrue((0.5...1).contains(policy.delay(beforeRetry: 10)))
        }
    }

    func testErrorDocumentParsing() {
        let body = Data(
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match.</Message>
            <AWSAccessKeyId>AKIATEST</AWSAccessKeyId><RequestId>1</RequestId></Error>
            """.utf8)
        let answer = S3ErrorResponse(status: 403, reason: "Forbidden", body: body, bucketRegionHeader: nil)
        XCTAssertEqual(answer.code, "SignatureDoesNotMatch")
        XCTAssertEqual(answer.message, "The request signature we calculated does not match.")
        let empty = S3ErrorResponse(status: 403, reason: "Forbidden", body: Data(), bucketRegionHeader: nil)
        XCTAssertEqual(empty.code, "")
        XCTAssertEqual(empty.message, "Forbidden")
    }
}
