import ECGFixtures
import Foundation
import WFDB
import XCTest

/// `pipe infer` as a user runs it: the PyTorch-exported original model (committed ONNX fixture) on records
/// written here, output formats, many records at once, the annotation file, and bad input with exit code 2.
final class InferCommandTests: XCTestCase {
    private var harness: BinaryHarness?

    private static let torchModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ONNXTests/Fixtures/original_torch.onnx").path

    override func setUpWithError() throws {
        harness = try BinaryHarness()
    }

    private func root() throws -> URL { try XCTUnwrap(harness).root }

    /// A one-lead MLII record at 360 Hz, 30 s, 75 bpm (or a flat line).
    private func writeRecord(_ name: String, flat: Bool = false, format: SignalFormat = .packed212) throws {
        let fixture = SyntheticECG.regular(samplingRate: 360, beatsPerMinute: 75, duration: 30)
        let samples = fixture.samples().map { flat ? Int32(5) : Int32(($0 * 200).rounded()) }
        let header = RecordHeader(
            name: name, signals: [SignalSpec(fileName: "\(name).dat", format: format, gain: 200, description: "MLII")],
            samplingFrequency: 360)
        try RecordWriter.write(header, samples: [samples], directory: try root().path)
    }

    private func run(_ arguments: [String]) throws -> BinaryHarness.Output {
        try XCTUnwrap(harness).run(["infer", "--model", Self.torchModel] + arguments)
    }

    func testOneRecordPrintsAHeaderEveryBeatAndAVerdict() throws {
        try writeRecord("r1")
        let output = try run(["r1"])
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stdout.hasPrefix("record r1: 00:00:30.000, lead MLII (channel 0), 360 Hz"), output.stdout)
        XCTAssertTrue(output.stdout.contains("time          sample  class  probability"), output.stdout)
        XCTAssertTrue(output.stdout.contains("mean heart rate: 75 bpm"), output.stdout)
        XCTAssertTrue(output.stdout.contains("arrhythmia: "), output.stdout)
        let beatLines = output.stdout.split(separator: "\n").filter { $0.hasPrefix("00:00:") }
        XCTAssertGreaterThanOrEqual(beatLines.count, 36)

        let summary = try run(["r1", "--summary"])
        XCTAssertFalse(summary.stdout.contains("probability"), summary.stdout)
        XCTAssertTrue(summary.stdout.contains("beats: \(beatLines.count) · N "), summary.stdout)
    }

    func testJSONAndCSVCarryTheSameBeats() throws {
        try writeRecord("r1")
        let json = try run(["r1", "--format", "json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let records = try XCTUnwrap(document["records"] as? [[String: Any]])
        let beats = try XCTUnwrap(records.first?["beats"] as? [[String: Any]])
        let total = try XCTUnwrap(document["total"] as? [String: Any])
        XCTAssertEqual(total["beats"] as? Int, beats.count)
        XCTAssertNotNil(total["arrhythmia"] as? Bool)
        XCTAssertEqual((document["model"] as? [String: Any])?["window"] as? Int, 187)

        let csv = try run(["r1", "--format", "csv"])
        let rows = csv.stdout.split(separator: "\n")
        XCTAssertEqual(rows.first, "record,time,sample,class,probability,p_N,p_S,p_V,p_F,p_Q,leads")
        XCTAssertEqual(rows.count, beats.count + 1)
    }

    func testATwoLeadRecordIsFusedUnlessOneLeadIsAskedFor() throws {
        let fixture = SyntheticECG.regular(samplingRate: 360, beatsPerMinute: 75, duration: 30)
        let samples = fixture.samples().map { Int32(($0 * 200).rounded()) }
        let header = RecordHeader(
            name: "two",
            signals: ["MLII", "V1"].map {
                SignalSpec(fileName: "two.dat", format: .packed212, gain: 200, description: $0)
            },
            samplingFrequency: 360)
        try RecordWriter.write(header, samples: [samples, samples.map { -$0 }], directory: try root().path)
        func record(_ arguments: [String]) throws -> [String: Any] {
            let output = try run(["two", "--format", "json"] + arguments)
            XCTAssertEqual(output.status, 0, output.stderr)
            let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
            return try XCTUnwrap((document["records"] as? [[String: Any]])?.first)
        }
        let fused = try record([])
        XCTAssertEqual(fused["fusion"] as? String, "quality")
        XCTAssertEqual((fused["leads"] as? [[String: Any]])?.compactMap { $0["name"] as? String }, ["MLII", "V1"])
        XCTAssertEqual(try record(["--fusion", "mean"])["fusion"] as? String, "mean")
        let one = try record(["--lead", "V1"])
        XCTAssertTrue(one["fusion"] is NSNull)
        XCTAssertEqual(one["lead"] as? String, "V1")
        let beats = try XCTUnwrap(one["beats"] as? [[String: Any]])
        XCTAssertTrue(beats.allSatisfy { ($0["leads"] as? [Int]) == [1] })

        let text = try run(["two", "--summary"])
        XCTAssertTrue(
            text.stdout.hasPrefix("record two: 00:00:30.000, leads MLII (channel 0) + V1 (channel 1)"), text.stdout)
        XCTAssertTrue(text.stdout.contains("signal quality: 0.0 % of the record (0:00 of 0:30)"), text.stdout)
        let bad = try run(["two", "--fusion", "vote"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("vote"), bad.stderr)
    }

    func testADirectoryOfRecordsGivesOneLinePerRecordAndATotal() throws {
        try writeRecord("a")
        try writeRecord("b")
        try "a\nb\n".write(to: try root().appendingPathComponent("RECORDS"), atomically: true, encoding: .utf8)
        let output = try run([".", "--summary"])
        XCTAssertEqual(output.status, 0, output.stderr)
        let lines = output.stdout.split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.hasPrefix("a ") }, output.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("b ") }, output.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("total ") }, output.stdout)

        let listed = try run(["RECORDS", "--summary", "--format", "csv"])
        XCTAssertEqual(listed.stdout.split(separator: "\n").count, 3, listed.stdout)
    }

    func testAnnotateWritesAWFDBAnnotationFile() throws {
        try writeRecord("r1")
        let output = try run(["r1", "--summary", "--annotate", "pipe"])
        XCTAssertEqual(output.status, 0, output.stderr)
        let annotations = try AnnotationFile.read(
            record: RecordLocation(directory: try root().path, name: "r1"), annotator: "pipe")
        XCTAssertGreaterThanOrEqual(annotations.count, 36)
        XCTAssertTrue(annotations.allSatisfy { ["N", "S", "V", "F", "Q"].contains($0.symbol) })
    }

    func testAFlatSignalSaysNoBeatsDetectedAndSucceeds() throws {
        try writeRecord("flat", flat: true)
        let output = try run(["flat"])
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stdout.contains("no beats detected"), output.stdout)
    }

    func testBadInputExitsTwoNamingWhatIsWrong() throws {
        try writeRecord("r1")
        let lead = try run(["r1", "--lead", "V1"])
        XCTAssertEqual(lead.status, 2)
        XCTAssertTrue(lead.stderr.contains("V1"), lead.stderr)

        try FileManager.default.removeItem(at: try root().appendingPathComponent("r1.dat"))
        let missing = try run(["r1"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("r1.dat"), missing.stderr)

        try writeRecord("r2")
        let noModel = try XCTUnwrap(harness).run(["infer", "r2", "--model", "nowhere.onnx"])
        XCTAssertEqual(noModel.status, 2)
        XCTAssertTrue(noModel.stderr.contains("nowhere.onnx"), noModel.stderr)

        let header = try root().appendingPathComponent("r2.hea")
        let text = try String(contentsOf: header, encoding: .utf8).replacingOccurrences(of: " 212 ", with: " 516 ")
        try text.write(to: header, atomically: true, encoding: .utf8)
        let format = try run(["r2"])
        XCTAssertEqual(format.status, 2)
        XCTAssertTrue(format.stderr.contains("516"), format.stderr)
    }
}
