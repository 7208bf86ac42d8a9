import ContentStore
import Foundation
import XCTest

@testable import ECGStages

/// The sum and record lists `ecg.fetch` reads, in the spellings found in the wild.
final class FetchChecksumListTests: XCTestCase {
    private let hexA = String(repeating: "a", count: 64)
    private let hexB = String(repeating: "b", count: 64)

    func testSha256sumBinaryTextAndSingleSpaceLinesAllParse() throws {
        let text = "\(hexA)  100.hea\r\n\(hexB) *100.dat\n\(hexA.uppercased()) ./x/100.atr\n\n"
        let list = try SHA256SumList(parsing: Data(text.utf8), origin: "SUMS")
        XCTAssertEqual(try list.digest(for: "100.hea").hex, hexA)
        XCTAssertEqual(try list.digest(for: "100.dat").hex, hexB)
        XCTAssertEqual(try list.digest(for: "x/100.atr").hex, hexA)
    }

    func testAMalformedLineIsRejectedWithItsLineNumber() {
        let text = "\(hexA)  100.hea\nnot a sum line\n"
        XCTAssertThrowsError(try SHA256SumList(parsing: Data(text.utf8), origin: "SUMS")) { error in
            XCTAssertEqual("\(error)", "SUMS:2: expected 'SHA256  NAME', found 'not a sum line'")
        }
    }

    func testAFileWithoutALineHasNoSum() throws {
        let list = try SHA256SumList(parsing: Data("\(hexA)  100.hea\n".utf8), origin: "SUMS")
        XCTAssertThrowsError(try list.digest(for: "100.dat")) { error in
            XCTAssertEqual(error as? FetchError, .missingSum(file: "100.dat", list: "SUMS"))
        }
    }

    func testWrittenSumsAreSha256sumCompatibleAndReadBack() throws {
        let files = [("100.hea", Digest.of(Data("a".utf8))), ("100.dat", Digest.of(Data("b".utf8)))]
        let text = SHA256SumList.lines(files.map { (name: $0.0, digest: $0.1) })
        XCTAssertEqual(text, "\(files[0].1.hex)  100.hea\n\(files[1].1.hex)  100.dat\n")
        XCTAssertEqual(try SHA256SumList(parsing: Data(text.utf8), origin: "x").digest(for: "100.dat"), files[1].1)
    }

    func testRecordNamesThatWouldLeaveTheOutputAreRejected() {
        XCTAssertEqual(try RecordsList.parse(Data("100\n101\r\n\n# comment\n".utf8), origin: "R"), ["100", "101"])
        for name in ["../etc/passwd", "/abs", "a//b", "a/../../b"] {
            XCTAssertThrowsError(try RecordsList.parse(Data((name + "\n").utf8), origin: "R"), name)
        }
    }
}
