import XCTest

@testable import WFDB

/// MIT-format annotation files: reading, writing, and the pseudo-annotations SKIP, NUM, SUB, CHN, AUX.
final class AnnotationTests: XCTestCase {
    private func roundTrip(_ annotations: [Annotation]) throws -> [Annotation] {
        let directory = try TemporaryDirectory()
        let location = RecordLocation(directory: directory.path, name: "r")
        try AnnotationFile.write(annotations, record: location, annotator: "test")
        return try AnnotationFile.read(record: location, annotator: "test")
    }

    func testPlainBeatsRoundTrip() throws {
        let annotations = (0..<200).map { Annotation(sample: 100 + $0 * 300, code: [1, 5, 8, 12][$0 % 4]) }
        XCTAssertEqual(try roundTrip(annotations), annotations)
    }

    func testGapsOver1023SamplesUseSkip() throws {
        let annotations = [
            Annotation(sample: 0, code: 1), Annotation(sample: 1023, code: 1), Annotation(sample: 2047, code: 5),
            Annotation(sample: 2047 + 70_000, code: 1), Annotation(sample: 3_000_000_000, code: 28, aux: "(VT"),
        ]
        let bytes = try AnnotationFile.encode(annotations, file: "x")
        let skips = stride(from: 0, to: bytes.count - 1, by: 2).filter { Int(bytes[$0 + 1]) >> 2 == 59 }
        XCTAssertGreaterThanOrEqual(skips.count, 3)
        XCTAssertEqual(try roundTrip(annotations), annotations)
    }

    func testAuxTextOddAndEvenLengthsRoundTrip() throws {
        let annotations = [
            Annotation(sample: 10, code: 28, aux: "(N"), Annotation(sample: 20, code: 28, aux: "(AFIB"),
            Annotation(sample: 30, code: 22, aux: "note with spaces, commas and ünïcode"),
            Annotation(sample: 40, code: 28, aux: "(N\0"),
        ]
        XCTAssertEqual(try roundTrip(annotations), annotations)
    }

    func testNumChanAndSubChangesRoundTrip() throws {
        let annotations = [
            Annotation(sample: 5, code: 1, subtype: 0, channel: 0, number: 0),
            Annotation(sample: 6, code: 1, subtype: 3, channel: 1, number: 0),
            Annotation(sample: 7, code: 5, subtype: -1, channel: 1, number: 7),
            Annotation(sample: 8, code: 5, subtype: 0, channel: 1, number: 7),
            Annotation(sample: 9, code: 14, subtype: 127, channel: 255, number: -128),
            Annotation(sample: 9, code: 1, subtype: 0, channel: 0, number: 0),
        ]
        XCTAssertEqual(try roundTrip(annotations), annotations)
    }

    func testNumAndChanCarryOverToLaterAnnotations() throws {
        // Hand-made: N at 10, NUM 5, CHN 2, then N at 20 with no modifiers.
        let words = [1 << 10 | 10, 60 << 10 | 5, 62 << 10 | 2, 1 << 10 | 10, 0]
        let bytes = words.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let annotations = try AnnotationFile.parse(bytes, file: "hand.atr")
        XCTAssertEqual(annotations.map(\.number), [5, 5])
        XCTAssertEqual(annotations.map(\.channel), [2, 2])
        XCTAssertEqual(annotations.map(\.sample), [10, 20])
    }

    func testStandardCodeTable() {
        XCTAssertEqual(AnnotationCode.symbol(for: 1), "N")
        XCTAssertEqual(AnnotationCode.symbol(for: 5), "V")
        XCTAssertEqual(AnnotationCode.symbol(for: 28), "+")
        XCTAssertEqual(AnnotationCode.symbol(for: 41), "r")
        XCTAssertEqual(AnnotationCode.symbol(for: 15), "[15]")
        XCTAssertEqual(AnnotationCode.code(for: "/"), 12)
        XCTAssertNil(AnnotationCode.code(for: "zz"))
    }

    func testWriterRejectsOutOfOrderAndBadCodes() {
        assertWFDBError(
            try AnnotationFile.encode(
                [Annotation(sample: 10, code: 1), Annotation(sample: 5, code: 1)], file: "w.atr"), names: "w.atr"
        ) {
            if case .unrepresentable = $0 { return true } else { return false }
        }
        assertWFDBError(try AnnotationFile.encode([Annotation(sample: 10, code: 0)], file: "w.atr"), names: "w.atr") {
            if case .unrepresentable = $0 { return true } else { return false }
        }
        assertWFDBError(
            try AnnotationFile.encode(
                [Annotation(sample: 1, code: 1, aux: String(repeating: "x", count: 300))], file: "w.atr"),
            names: "w.atr"
        ) {
            if case .unrepresentable = $0 { return true } else { return false }
        }
    }
}
