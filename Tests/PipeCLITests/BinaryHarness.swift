import Foundation
import XCTest

/// Runs the built `pipe` binary in a temporary workspace, the way a user does.
final class BinaryHarness {
    let root: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    static var binary: URL { Bundle.main.bundleURL.appendingPathComponent("pipe") }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func write(_ path: String, _ text: String, in directory: URL? = nil) throws {
        let url = (directory ?? root).appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func read(_ path: String, in directory: URL? = nil) throws -> String {
        String(decoding: try Data(contentsOf: (directory ?? root).appendingPathComponent(path)), as: UTF8.self)
    }

    /// Waits until a stage's command has created `path` (a marker that it is running), for at most 20 s.
    func waitForFile(_ path: String) throws {
        let url = root.appendingPathComponent(path)
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: url.path) {
            guard Date() < deadline else { throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: url.path]) }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// Starts `pipe ARGS` in `directory` (default: the workspace) without waiting.
    func start(
        _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]
    ) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.currentDirectoryURL = directory ?? root
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    /// Runs `pipe ARGS` to completion.
    @discardableResult
    func run(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws -> Output {
        let (process, out, err) = try start(arguments, in: directory, environment: environment)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }
}
