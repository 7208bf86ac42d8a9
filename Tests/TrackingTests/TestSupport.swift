import Foundation
import XCTest

@testable import Tracking

/// A temporary directory removed when the test ends.
func makeTemporaryDirectory(_ test: XCTestCase, file: StaticString = #filePath, line: UInt = #line) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("tracking-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url.resolvingSymlinksInPath()
}

/// Runs a command line tool, failing the test on a non-zero exit; returns trimmed stdout.
@discardableResult
func shell(
    _ executable: String, _ arguments: [String], in directory: URL,
    file: StaticString = #filePath, line: UInt = #line
) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    process.currentDirectoryURL = directory
    var environment = ProcessInfo.processInfo.environment
    environment["GIT_CONFIG_NOSYSTEM"] = "1"
    environment["GIT_AUTHOR_NAME"] = "Test"
    environment["GIT_AUTHOR_EMAIL"] = "test@example.com"
    environment["GIT_COMMITTER_NAME"] = "Test"
    environment["GIT_COMMITTER_EMAIL"] = "test@example.com"
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardError = Pipe()
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    XCTAssertEqual(
        process.terminationStatus, 0, "\(executable) \(arguments.joined(separator: " ")) failed",
        file: file, line: line)
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// A git repository with one committed file, `tracked.txt`, on branch `main`.
func makeRepository(_ test: XCTestCase, commit: Bool = true) throws -> URL {
    let root = try makeTemporaryDirectory(test)
    try shell("git", ["init", "-q", "-b", "main"], in: root)
    guard commit else { return root }
    try "one\n".write(to: root.appendingPathComponent("tracked.txt"), atomically: true, encoding: .utf8)
    try shell("git", ["add", "tracked.txt"], in: root)
    try shell("git", ["commit", "-q", "-m", "first"], in: root)
    return root
}

func write(_ text: String, to path: String, in root: URL) throws {
    let url = root.appendingPathComponent(path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try text.write(to: url, atomically: true, encoding: .utf8)
}

let fixedStart = Date(timeIntervalSince1970: 1_764_000_000)  // 2025-11-24 16:00:00 UTC

extension RunStore {
    /// A finished run with params and final metrics, for query tests.
    @discardableResult
    func addRun(
        params: [String: String], metrics: [String: Double], status: RunStatus = .succeeded,
        commit: String = "0123456789abcdef0123456789abcdef01234567", dirty: Bool = false,
        start: Date, seconds: TimeInterval = 60, id: RunID? = nil
    ) throws -> RunID {
        let run = try beginRun(
            kind: .repro, argv: ["pipe", "repro"],
            git: GitFacts(commit: commit, branch: "main", isDirty: dirty),
            pipeVersion: "0.1.0", startedAt: start, process: .current, id: id)
        try recordParams(params.map { RunParam(key: $0.key, value: $0.value) }, run: run)
        try logMetrics(
            metrics.map { MetricPoint(key: $0.key, value: $0.value, step: 0, timestamp: start) },
            run: run, stage: "evaluate")
        try finishRun(run, status: status, endedAt: start.addingTimeInterval(seconds))
        return run
    }
}
