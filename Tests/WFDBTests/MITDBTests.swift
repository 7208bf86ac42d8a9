import Foundation
import XCTest

@testable import WFDB

/// The MIT-BIH Arrhythmia Database, found through `PIPE_MITDB_SOURCE`: every record reads, and
/// records 100, 208 and 232 match wfdb-python's values (Fixtures/mitdb_reference.json, written by
/// scripts/wfdb_reference.py) exactly.
final class MITDBTests: XCTestCase {
    static let records = [
        "100", "101", "102", "103", "104", "105", "106", "107", "108", "109", "111", "112", "113", "114",
        "115", "116", "117", "118", "119", "121", "122", "123", "124", "200", "201", "202", "203", "205",
        "207", "208", "209", "210", "212", "213", "214", "215", "217", "219", "220", "221", "222", "223",
        "228", "230", "231", "232", "233", "234",
    ]

    struct Reference: Decodable {
        struct Entry: Decodable {
            var signals: [String]
            var samples: Int
            var first20: [[Int]]
            var last20: [[Int]]
            var annotationCount: Int
            var symbolCounts: [String: Int]
            var firstAnnotations: [FirstAnnotation]
        }

        struct FirstAnnotation: Decodable {
            var sample: Int
            var symbol: String
            var subtype: Int
            var chan: Int
            var num: Int
            var aux: String
        }

        var records: [String: Entry]
    }

    private func mitdbDirectory() throws -> String {
        guard let directory = ProcessInfo.processInfo.environment["PIPE_MITDB_SOURCE"], !directory.isEmpty else {
            throw XCTSkip(
                "PIPE_MITDB_SOURCE is not set: set it to the MIT-BIH directory (../shared/data/mitdb) "
                    + "to read the real database")
        }
        guard FileManager.default.fileExists(atPath: directory + "/100.hea") else {
            throw XCTSkip("PIPE_MITDB_SOURCE=\(directory) is not a local MIT-BIH directory (no 100.hea)")
        }
        return directory
    }

    private func loadReference() throws -> Reference {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/mitdb_reference.json")
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    func testAll48RecordsReadWithMatchingChecksums() throws {
        let directory = try mitdbDirectory()
        for name in Self.records {
            let record = try WFDBRecord.open(directory + "/" + name)
            XCTAssertEqual(record.frameCount, 650_000, name)
            var statuses: [ChecksumStatus] = []
            let block = try record.read()
            statuses = block.channels.map(\.checksum)
            XCTAssertEqual(block.channels.count, 2, name)
            XCTAssertEqual(statuses, [.ok, .ok], name)
            XCTAssertTrue(block.warnings.isEmpty, name)
            let annotations = try AnnotationFile.read(record: record.location)
            XCTAssertGreaterThan(annotations.count, 1000, name)
            XCTAssertEqual(annotations.map(\.sample), annotations.map(\.sample).sorted(), name)
        }
    }

    func testRecords100_208_232MatchWfdbPython() throws {
        let directory = try mitdbDirectory()
        let reference = try loadReference()
        XCTAssertEqual(Set(reference.records.keys), ["100", "208", "232"])
        for (name, expected) in reference.records.sorted(by: { $0.key < $1.key }) {
            let record = try WFDBRecord.open(directory + "/" + name)
            XCTAssertEqual(record.signals.map(\.description), expected.signals, name)
            XCTAssertEqual(record.frameCount, expected.samples, name)
            let block = try record.read()
            for (index, channel) in block.channels.enumerated() {
                XCTAssertEqual(
                    channel.digital.prefix(20).map(Int.init), expected.first20[index], "\(name) signal \(index)")
                XCTAssertEqual(
                    channel.digital.suffix(20).map(Int.init), expected.last20[index], "\(name) signal \(index)")
            }
            let annotations = try AnnotationFile.read(record: record.location)
            XCTAssertEqual(annotations.count, expected.annotationCount, name)
            var counts: [String: Int] = [:]
            for annotation in annotations { counts[annotation.symbol, default: 0] += 1 }
            XCTAssertEqual(counts, expected.symbolCounts, name)
            for (annotation, wanted) in zip(annotations, expected.firstAnnotations) {
                XCTAssertEqual(annotation.sample, wanted.sample, name)
                XCTAssertEqual(annotation.symbol, wanted.symbol, name)
                XCTAssertEqual(annotation.subtype, wanted.subtype, name)
                XCTAssertEqual(annotation.channel, wanted.chan, name)
                XCTAssertEqual(annotation.number, wanted.num, name)
                XCTAssertEqual(annotation.aux ?? "", wanted.aux, name)
            }
            XCTAssertEqual(expected.firstAnnotations.count, 20, name)
        }
    }

    func testBlockwiseDecodingMatchesWholeRecord() throws {
        let directory = try mitdbDirectory()
        let record = try WFDBRecord.open(directory + "/208")
        let whole = try record.read()
        var pieces: [[Int32]] = [[], []]
        let statuses = try record.forEachBlock(framesPerBlock: 100_001) { block in
            for (index, channel) in block.channels.enumerated() { pieces[index] += channel.digital }
        }
        XCTAssertEqual(statuses, [.ok, .ok])
        XCTAssertEqual(pieces, whole.channels.map(\.digital))
    }
}
