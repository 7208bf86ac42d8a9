import Foundation
import XCTest

@testable import WFDB

/// A fresh temporary directory per test, removed afterwards.
final class TemporaryDirectory {
    let path: String

    init() throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("wfdb-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: file(name)))
    }

    func write(_ name: String, bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: file(name)))
    }

    func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: file(name))))
    }
}

/// Deterministic pseudo-random samples (xorshift), so fixtures are the same on every run.
struct SampleGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed | 1 }

    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    /// A wandering signal within `range`, with steps of at most `step`, hitting both range ends.
    mutating func signal(count: Int, range: ClosedRange<Int32>, step: Int32 = .max) -> [Int32] {
        var values: [Int32] = []
        values.reserveCapacity(count)
        let span = Int64(range.upperBound) - Int64(range.lowerBound) + 1
        var current = Int64(range.lowerBound) + span / 2
        for _ in 0..<count {
            if step == .max {
                current = Int64(range.lowerBound) + Int64(next() % UInt64(span))
            } else {
                let delta = Int64(next() % UInt64(2 * Int64(step) + 1)) - Int64(step)
                current = min(max(current + delta, Int64(range.lowerBound)), Int64(range.upperBound))
            }
            values.append(Int32(current))
        }
        if step == .max && count >= 3 {
            values[1] = range.lowerBound
            values[2] = range.upperBound
        }
        return values
    }
}

/// Asserts that `body` throws a `WFDBError` matching `matches`, whose message names `file`.
func assertWFDBError<T>(
    _ body: @autoclosure () throws -> T, names file: String, line headerLine: Int? = nil,
    _ matches: (WFDBError) -> Bool, sourceLine: UInt = #line
) {
    do {
        _ = try body()
        XCTFail("expected a WFDBError, got success", line: sourceLine)
    } catch let error as WFDBError {
        XCTAssertTrue(matches(error), "unexpected error case: \(error)", line: sourceLine)
        let message = error.description
        XCTAssertTrue(message.contains(file), "message '\(message)' does not name \(file)", line: sourceLine)
        if let headerLine {
            XCTAssertTrue(
                message.contains(":\(headerLine):"), "message '\(message)' lacks line \(headerLine)",
                line: sourceLine)
        }
    } catch {
        XCTFail("expected a WFDBError, got \(error)", line: sourceLine)
    }
}
