import Foundation
import XCTest

/// A test case working in a fresh folder under the temporary directory, removed after each test.
class TemporaryFolderTestCase: XCTestCase {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-cs-\(UUID().uuidString)")

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    /// Writes `text` to the root-relative `path`, creating its folders.
    func write(_ path: String, _ text: String) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }
}
