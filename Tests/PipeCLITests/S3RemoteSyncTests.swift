import Foundation
import ServiceFixtures
import XCTest

/// The remote suite of `RemoteSyncTests` against a real S3 server (moto, authentication on), plus what only S3
/// has: credentials. One server for the class; each test gets a prefix of its own.
final class S3RemoteSyncTests: RemoteSyncTests {
    nonisolated(unsafe) static var server: S3TestServer?
    nonisolated(unsafe) static var startFailure: Error?
    var prefix = ""

    override class func setUp() {
        super.setUp()
        do { server = try S3TestServer.start(bucket: "pipe-sync-tests") } catch { startFailure = error }
    }

    override class func tearDown() {
        server?.stop()
        server = nil
        super.tearDown()
    }

    var s3: S3TestServer {
        get throws {
            guard let server = Self.server else {
                if let skip = Self.startFailure as? XCTSkip { throw skip }
                throw XCTSkip("S3 server tests skipped: \(Self.startFailure.map { "\($0)" } ?? "no server")")
            }
            return server
        }
    }

    override func setUpWithError() throws {
        prefix = "ws-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try s3
        try super.setUpWithError()
    }

    override func remoteArguments() throws -> [String] {
        let server = try s3
        return ["s3://\(server.bucket)/\(prefix)", "--endpoint", server.endpoint.absoluteString]
    }

    override var environment: [String: String] {
        guard let server = Self.server else { return [:] }
        // A home without ~/.aws, so that only these variables count.
        return [
            "AWS_ACCESS_KEY_ID": server.accessKeyID, "AWS_SECRET_ACCESS_KEY": server.secretAccessKey,
            "AWS_REGION": server.region, "HOME": workspace.root.path,
        ]
    }

    override func remoteObject(_ key: String) throws -> Data? { try s3.objectBytes(key: "\(prefix)/\(key)") }

    override func overwriteRemoteObject(_ key: String, with data: Data) throws {
        try s3.putObject(key: "\(prefix)/\(key)", data: data)
    }

    override func remoteKeys() throws -> [String] {
        try s3.listKeys(prefix: prefix + "/").map { String($0.dropFirst(prefix.count + 1)) }.sorted()
    }

    override func pushOldObjectDirectly(_ data: Data) throws {
        let hex = sha256Hex(data)
        try s3.putObject(key: "\(prefix)/objects/\(hex.prefix(2))/\(hex.dropFirst(2))", data: data)
    }

    // MARK: - Only S3

    func testAWrongSecretIsRefusedNamingTheAccessKeyIDAndChangesNothing() throws {
        try reproAndCommit()
        var wrong = environment
        wrong["AWS_SECRET_ACCESS_KEY"] = "not-the-secret-0123456789"
        let push = try workspace.run(["push"], environment: wrong)
        XCTAssertEqual(push.status, 1, push.stdout)
        XCTAssertTrue(push.stderr.contains("access denied"), push.stderr)
        XCTAssertTrue(push.stderr.contains(try s3.accessKeyID), push.stderr)
        XCTAssertFalse(push.stderr.contains("not-the-secret") || push.stdout.contains("not-the-secret"))
        XCTAssertEqual(try remoteKeys(), [], "nothing reached the remote")

        XCTAssertEqual(try pipe(["push"]).status, 0)
        let clone = try cloneWorkspace()
        let pull = try clone.run(["pull"], environment: wrong)
        XCTAssertEqual(pull.status, 1, pull.stdout)
        XCTAssertTrue(pull.stderr.contains("SignatureDoesNotMatch"), pull.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: clone.root.appendingPathComponent("data").path))
    }

    func testAMissingBucketAndADeadServerAreOneClearLineEach() throws {
        try reproAndCommit()
        let server = try s3
        XCTAssertEqual(
            try pipe([
                "remote", "add", "nobucket", "s3://no-such-bucket-here/x", "--endpoint", server.endpoint.absoluteString,
            ]).status, 0)
        let missing = try pipe(["push", "-r", "nobucket"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("the bucket 'no-such-bucket-here' does not exist"), missing.stderr)

        XCTAssertEqual(
            try pipe(["remote", "add", "dead", "s3://bucket-x/x", "--endpoint", "http://127.0.0.1:9"]).status, 0)
        let dead = try pipe(["push", "-r", "dead"])
        XCTAssertEqual(dead.status, 1)
        XCTAssertTrue(dead.stderr.contains("cannot reach the server"), dead.stderr)
        XCTAssertEqual(dead.stderr.split(separator: "\n").count, 1, dead.stderr)
    }
}
