import Foundation
import XCTest

/// A moto S3 server with authentication on, started by scripts/s3_test_server.py and stopped by its pid.
///
/// The server listens on 127.0.0.1 (a free port), checks Signature V4 with the access key of an IAM user allowed
/// `s3:*`, and holds `bucket`. Tests read objects back through boto3 (the real AWS SDK), never through the code under
/// test. Needs `PIPE_PYTHON` naming a python with `moto[server]` and boto3 (scripts/test makes one); otherwise
/// `start` throws `XCTSkip`.
public final class S3TestServer {
    public let pid: Int32
    public let endpoint: URL
    public let accessKeyID: String
    public let secretAccessKey: String
    public let region: String
    public let bucket: String
    /// The server's own log (requests, tracebacks).
    public let log: URL

    private let python: String
    private let lock = NSLock()
    private var stopped = false

    private init(info: StartInfo, python: String) throws {
        guard let endpoint = URL(string: info.endpoint) else {
            throw Failure("s3_test_server.py printed an invalid endpoint \(info.endpoint)")
        }
        self.pid = info.pid
        self.endpoint = endpoint
        self.accessKeyID = info.accessKeyID
        self.secretAccessKey = info.secretAccessKey
        self.region = info.region
        self.bucket = info.bucket
        self.log = URL(fileURLWithPath: info.log)
        self.python = python
    }

    deinit { stop() }

    /// Starts a server holding an empty `bucket` (at least 3 characters). Throws XCTSkip when PIPE_PYTHON is unset
    /// or that python lacks moto, boto3 or flask.
    public static func start(bucket: String) throws -> S3TestServer {
        let python = try availablePython()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("s3-test-server-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let result = try runProcess(
            python,
            [scriptPath.path, "start", "--bucket", bucket, "--dir", directory.path],
            timeout: 120
        )
        guard result.status == 0 else {
            throw Failure(
                "s3_test_server.py start failed (exit \(result.status)): \(result.stderr.suffix(4000))"
            )
        }
        let line = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let info: StartInfo
        do {
            info = try JSONDecoder().decode(StartInfo.self, from: Data(line.utf8))
        } catch {
            // The line holds the secret: never quoted.
            throw Failure("s3_test_server.py start printed no valid JSON line (\(line.utf8.count) bytes)")
        }
        do {
            return try S3TestServer(info: info, python: python)
        } catch {
            _ = try? runProcess(python, [scriptPath.path, "stop", String(info.pid)], timeout: 30)
            throw error
        }
    }

    /// Stops the server (SIGTERM, SIGKILL after 5 s) and waits until it is gone. Idempotent.
    public func stop() {
        let alreadyStopped = lock.withLock {
            defer { stopped = true }
            return stopped
        }
        if alreadyStopped { return }
        _ = try? Self.runProcess(python, [Self.scriptPath.path, "stop", String(pid)], timeout: 30)
    }

    /// Runs a boto3 snippet against the server and returns its stdout. The code runs at the top level of a script
    /// that has already made `s3` (a boto3 S3 client for this server, path-style, with the IAM user's key) and
    /// `bucket` (the bucket's name), and imported `os`, `sys`, `json`, `base64`, `boto3` and `botocore`.
    public func boto3(_ pythonCode: String) throws -> String {
        try boto3(pythonCode, environment: [:])
    }

    /// Object bytes read with boto3 (get_object), nil when absent.
    public func objectBytes(key: String) throws -> Data? {
        let file = Self.temporaryFile()
        defer { try? FileManager.default.removeItem(at: file) }
        let output = try boto3(
            """
            try:
                body = s3.get_object(Bucket=bucket, Key=os.environ["PIPE_S3_KEY"])["Body"].read()
            except botocore.exceptions.ClientError as e:
                if e.response["Error"]["Code"] in ("NoSuchKey", "404"):
                    print("absent")
                    sys.exit(0)
                raise
            with open(os.environ["PIPE_S3_FILE"], "wb") as f:
                f.write(body)
            print("present")
            """,
            environment: ["PIPE_S3_KEY": key, "PIPE_S3_FILE": file.path]
        )
        switch output.trimmingCharacters(in: .whitespacesAndNewlines) {
        case "absent": return nil
        case "present": return try Data(contentsOf: file)
        case let other: throw Failure("get_object of \(key): unexpected output \(other.prefix(200))")
        }
    }

    /// Writes an object with boto3 (put_object).
    public func putObject(key: String, data: Data) throws {
        let file = Self.temporaryFile()
        defer { try? FileManager.default.removeItem(at: file) }
        try data.write(to: file)
        _ = try boto3(
            """
            with open(os.environ["PIPE_S3_FILE"], "rb") as f:
                s3.put_object(Bucket=bucket, Key=os.environ["PIPE_S3_KEY"], Body=f.read())
            """,
            environment: ["PIPE_S3_KEY": key, "PIPE_S3_FILE": file.path]
        )
    }

    /// Every key under `prefix`, sorted, read with boto3 (ListObjectsV2, all pages).
    public func listKeys(prefix: String) throws -> [String] {
        let output = try boto3(
            """
            keys = []
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=os.environ["PIPE_S3_PREFIX"])
            for page in pages:
                keys += [o["Key"] for o in page.get("Contents", [])]
            print(json.dumps(sorted(keys)))
            """,
            environment: ["PIPE_S3_PREFIX": prefix]
        )
        let line = output.split(separator: "\n").last.map(String.init) ?? ""
        guard let keys = try? JSONDecoder().decode([String].self, from: Data(line.utf8)) else {
            throw Failure("list_objects_v2 under \(prefix): unexpected output \(line.prefix(200))")
        }
        return keys
    }

    // MARK: - Running python

    /// The preamble every snippet runs after. The connection comes through the environment, never the arguments.
    private static let preamble = """
        import base64, json, os, sys
        import boto3, botocore.config, botocore.exceptions
        s3 = boto3.client(
            "s3",
            endpoint_url=os.environ["PIPE_S3_ENDPOINT"],
            region_name=os.environ["PIPE_S3_REGION"],
            aws_access_key_id=os.environ["PIPE_S3_ACCESS_KEY_ID"],
            aws_secret_access_key=os.environ["PIPE_S3_SECRET_ACCESS_KEY"],
            config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )
        bucket = os.environ["PIPE_S3_BUCKET"]

        """

    private func boto3(_ pythonCode: String, environment: [String: String]) throws -> String {
        var variables = environment
        variables["PIPE_S3_ENDPOINT"] = endpoint.absoluteString
        variables["PIPE_S3_REGION"] = region
        variables["PIPE_S3_ACCESS_KEY_ID"] = accessKeyID
        variables["PIPE_S3_SECRET_ACCESS_KEY"] = secretAccessKey
        variables["PIPE_S3_BUCKET"] = bucket
        let result = try Self.runProcess(
            python,
            ["-c", Self.preamble + pythonCode],
            environment: variables,
            timeout: 300
        )
        guard result.status == 0 else {
            let stderr = redacted(String(result.stderr.suffix(4000)))
            throw Failure("boto3 snippet failed (exit \(result.status)): \(stderr)")
        }
        return result.stdout
    }

    private func redacted(_ text: String) -> String {
        secretAccessKey.isEmpty ? text : text.replacingOccurrences(of: secretAccessKey, with: "<secret>")
    }

    /// The JSON line of `s3_test_server.py start`.
    private struct StartInfo: Decodable {
        var pid: Int32
        var port: Int
        var endpoint: String
        var accessKeyID: String
        var secretAccessKey: String
        var region: String
        var bucket: String
        var log: String

        enum CodingKeys: String, CodingKey {
            case pid, port, endpoint, region, bucket, log
            case accessKeyID = "access_key_id"
            case secretAccessKey = "secret_access_key"
        }
    }

    /// A failure of the server's script or of a boto3 snippet (never quoting the secret).
    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    private struct ProcessResult {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// scripts/s3_test_server.py, found from this file: Tests/ServiceFixtures/ → the package root.
    private static let scriptPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .appendingPathComponent("../../scripts/s3_test_server.py")
        .standardizedFileURL

    /// PIPE_PYTHON when it imports moto, boto3 and flask; checked once per process. Otherwise the reason to skip.
    private static let pythonCheck: Result<String, Failure> = {
        guard let python = ProcessInfo.processInfo.environment["PIPE_PYTHON"], !python.isEmpty else {
            return .failure(Failure("PIPE_PYTHON (run the tests with scripts/test)"))
        }
        guard let result = try? runProcess(python, ["-c", "import moto, boto3, flask"], timeout: 120) else {
            return .failure(Failure("\(python) (cannot run it)"))
        }
        guard result.status == 0 else {
            let reason = result.stderr.split(separator: "\n").last.map(String.init) ?? "exit \(result.status)"
            return .failure(Failure("moto[server]/boto3 in \(python): \(reason)"))
        }
        return .success(python)
    }()

    private static func availablePython() throws -> String {
        switch pythonCheck {
        case .success(let python): return python
        case .failure(let missing): throw XCTSkip("S3 server tests skipped: missing: \(missing.message)")
        }
    }

    private static func temporaryFile() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("s3-test-\(UUID().uuidString)")
    }

    /// Runs `executable` with `arguments`, stdout and stderr into temporary files (no pipe to fill up), and waits at
    /// most `timeout` seconds (then terminates it). AWS_* variables are not passed on: the SDK gets its credentials
    /// from the snippet's preamble only.
    private static func runProcess(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        timeout: TimeInterval
    ) throws -> ProcessResult {
        let process = Process()
        if executable.contains("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {  // a bare name (PIPE_PYTHON=python3): looked up in PATH
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        var variables = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
        variables.merge(environment) { _, new in new }
        // boto3 honours HTTP(S)_PROXY: the loopback server is reached directly.
        let noProxy = ["127.0.0.1", "localhost", variables["NO_PROXY"]].compactMap { $0 }.joined(separator: ",")
        variables["NO_PROXY"] = noProxy
        variables["no_proxy"] = noProxy
        process.environment = variables

        let outURL = temporaryFile()
        let errURL = temporaryFile()
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        guard FileManager.default.createFile(atPath: outURL.path, contents: nil),
            FileManager.default.createFile(atPath: errURL.path, contents: nil)
        else { throw Failure("cannot create temporary files in \(FileManager.default.temporaryDirectory.path)") }
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        defer {
            try? out.close()
            try? err.close()
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err

        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            exited.wait()
            throw Failure("\(URL(fileURLWithPath: executable).lastPathComponent) ran past \(Int(timeout)) s")
        }
        let stdout = String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self)
        let stderr = String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self)
        return ProcessResult(status: process.terminationStatus, stdout: stdout, stderr: stderr)
    }
}
