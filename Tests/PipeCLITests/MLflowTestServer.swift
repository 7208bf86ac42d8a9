import Foundation
import XCTest

/// A real `mlflow server` (sqlite backend, artifact proxy) started by scripts/mlflow_test_server.py on a free port of
/// 127.0.0.1 and stopped by its pid. What it holds is read through MLflow's own Python client (`query`), never
/// through the code under test. Needs `PIPE_PYTHON` naming a python with mlflow (scripts/test makes one); otherwise
/// `start` throws `XCTSkip` naming what is missing.
final class MLflowTestServer {
    let pid: Int32
    let uri: String
    let directory: URL
    let log: URL
    private let python: String
    private var stopped = false

    static var scriptPath: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/mlflow_test_server.py")
    }

    private struct StartInfo: Decodable {
        var pid: Int32
        var uri: String
        var log: String
    }

    private init(info: StartInfo, python: String, directory: URL) {
        pid = info.pid
        uri = info.uri
        log = URL(fileURLWithPath: info.log)
        self.python = python
        self.directory = directory
    }

    deinit { stop() }

    /// The python named by PIPE_PYTHON, when it imports mlflow.
    static func availablePython() throws -> String {
        guard let python = ProcessInfo.processInfo.environment["PIPE_PYTHON"], !python.isEmpty else {
            throw XCTSkip("PIPE_PYTHON is not set (scripts/test sets it to a virtualenv with mlflow)")
        }
        let check = try run(python, ["-c", "import mlflow"], timeout: 120)
        guard check.status == 0 else {
            throw XCTSkip("\(python) cannot import mlflow (pip install mlflow): \(check.stderr.suffix(300))")
        }
        return python
    }

    static func start() throws -> MLflowTestServer {
        let python = try availablePython()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("mlflow-test-server-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let result = try run(python, [scriptPath.path, "start", "--dir", directory.path], timeout: 180)
        guard result.status == 0 else {
            throw Failure("mlflow_test_server.py start failed (exit \(result.status)): \(result.stderr.suffix(3000))")
        }
        let line = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        guard let info = try? JSONDecoder().decode(StartInfo.self, from: Data(line.utf8)) else {
            throw Failure("mlflow_test_server.py start printed no JSON line: \(line.prefix(300))")
        }
        return MLflowTestServer(info: info, python: python, directory: directory)
    }

    /// Stops the server by its pid (SIGTERM, SIGKILL after 10 s) and removes its folder. Idempotent.
    func stop() {
        guard !stopped else { return }
        stopped = true
        _ = try? Self.run(python, [Self.scriptPath.path, "stop", String(pid)], timeout: 60)
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs a Python snippet with `client` (MlflowClient for this server), `mlflow`, `json`, `os`, `sys` in scope
    /// and `environment` added; returns the last line of its stdout decoded as JSON.
    func query<T: Decodable>(
        _ type: T.Type, _ code: String, environment: [String: String] = [:]
    ) throws -> T {
        let result = try Self.run(python, [Self.scriptPath.path, "query", uri], stdin: code, environment: environment)
        guard result.status == 0 else { throw Failure("query failed: \(result.stderr.suffix(3000))") }
        let line = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        do {
            return try JSONDecoder().decode(T.self, from: Data(line.utf8))
        } catch {
            throw Failure("query printed \(line.prefix(500)): \(error)")
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(
        _ executable: String, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
        timeout: TimeInterval = 120
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        merged["PYTHONWARNINGS"] = "ignore"
        process.environment = merged
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
        let timer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
        // stderr is drained on another thread while stdout is read here, so neither pipe fills up.
        final class Drained: @unchecked Sendable { var data = Data() }
        let errDrained = Drained()
        let errRead = DispatchGroup()
        errRead.enter()
        DispatchQueue.global().async {
            errDrained.data = err.fileHandleForReading.readDataToEndOfFile()
            errRead.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        errRead.wait()
        let errData = errDrained.data
        process.waitUntilExit()
        timer.cancel()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }
}
