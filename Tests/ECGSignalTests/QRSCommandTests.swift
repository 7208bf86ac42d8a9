import ArgumentParser
import ECGFixtures
import ECGSignal
import Foundation
import QRSCommands
import WFDB
import XCTest

/// The `qrs` commands on a synthetic record written by the WFDB writer, run in-process.
final class QRSCommandTests: XCTestCase {
    private var directory = URL(fileURLWithPath: NSTemporaryDirectory())

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("qrs-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    /// A two-lead 360 Hz record `syn` whose second lead is MLII (so the default lead is channel 1), with the
    /// true beats (and a few non-beat annotations) as `syn.atr`.
    private func writeRecord() throws -> (path: String, fixture: SyntheticECG) {
        let fixture = SyntheticECG.regular(samplingRate: 360, beatsPerMinute: 72, duration: 400)
        let ecg = fixture.samples().map { Int32(($0 * 200).rounded()) }
        let noise = [Int32](repeating: 0, count: ecg.count)
        let header = RecordHeader(
            name: "syn",
            signals: [
                SignalSpec(fileName: "syn.dat", format: .packed212, gain: 200, description: "V5"),
                SignalSpec(fileName: "syn.dat", format: .packed212, gain: 200, description: "MLII"),
            ], samplingFrequency: 360)
        try RecordWriter.write(header, samples: [noise, ecg], directory: directory.path)
        var annotations = fixture.peakSamples.map { Annotation(sample: $0, code: AnnotationCode.code(for: "N") ?? 1) }
        annotations.append(Annotation(sample: 5, code: AnnotationCode.code(for: "+") ?? 28, aux: "(N"))
        annotations.append(Annotation(sample: 140_000, code: AnnotationCode.code(for: "~") ?? 14))
        annotations.sort { $0.sample < $1.sample }
        let location = RecordLocation(directory: directory.path, name: "syn")
        try AnnotationFile.write(annotations, record: location, annotator: "atr")
        return (directory.appendingPathComponent("syn").path, fixture)
    }

    func testDetectUsesMLIIByDefaultAndFindsEveryBeat() throws {
        let (path, fixture) = try writeRecord()
        let detections = try RecordQRSAnalysis.detect(recordPath: path, lead: nil)
        XCTAssertEqual(detections.leadName, "MLII")
        XCTAssertEqual(detections.leadIndex, 1)
        let result = BeatMatcher(samplingRate: 360, startTime: 0).match(
            reference: fixture.peakSamples, detected: detections.peaks)
        XCTAssertEqual(result, BeatMatchResult(truePositives: fixture.beatTimes.count))
        XCTAssertEqual(try RecordQRSAnalysis.detect(recordPath: path, lead: "0").leadName, "V5")
    }

    func testAnnotateWritesAnAnnotationFileOfNormalBeats() throws {
        let (path, fixture) = try writeRecord()
        let output = directory.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        var command = try QRSCommand.parseAsRoot([path, "--annotate", "qrs", "--out", output.path, "--json"])
        try command.run()
        let written = try AnnotationFile.read(
            record: RecordLocation(directory: output.path, name: "syn"), annotator: "qrs")
        XCTAssertEqual(written.count, fixture.beatTimes.count)
        XCTAssertTrue(written.allSatisfy { $0.symbol == "N" })
    }

    func testEvalCountsOnlyBeatsAfterFiveMinutesUnlessAll() throws {
        let (path, fixture) = try writeRecord()
        let bxb = try RecordQRSAnalysis.evaluate(recordPaths: [path], reference: "atr", lead: nil, includeAll: false)
        let afterFiveMinutes = fixture.peakSamples.filter { $0 >= 300 * 360 }.count
        XCTAssertEqual(bxb.gross, BeatMatchResult(truePositives: afterFiveMinutes))
        let all = try RecordQRSAnalysis.evaluate(
            recordPaths: [path, path], reference: "atr", lead: nil, includeAll: true)
        XCTAssertEqual(all.records.count, 2)
        XCTAssertEqual(all.gross, BeatMatchResult(truePositives: 2 * fixture.beatTimes.count))
        XCTAssertTrue(QRSReport.table(all).contains("gross"))
        XCTAssertTrue(QRSReport.json(all).contains("\"tp\":\(2 * fixture.beatTimes.count)"))
    }

    func testBadInputIsReported() throws {
        let (path, _) = try writeRecord()
        XCTAssertThrowsError(try QRSCommand.parseAsRoot([path, "--out", directory.path]))  // --out without --annotate
        XCTAssertThrowsError(try QRSCommand.parseAsRoot([path, "--annotate", "../x"]))
        XCTAssertThrowsError(try QRSCommand.parseAsRoot(["eval"]))
        XCTAssertThrowsError(try RecordQRSAnalysis.detect(recordPath: path, lead: "V9")) { error in
            XCTAssertNotNil(error as? WFDBError)
        }
        XCTAssertThrowsError(
            try RecordQRSAnalysis.evaluate(recordPaths: [path], reference: "nope", lead: nil, includeAll: false)
        ) { error in
            XCTAssertNotNil(error as? WFDBError)
        }
    }

    func testClockFormat() {
        XCTAssertEqual(QRSReport.clock(frame: 360 * 3723 + 180, frequency: 360), "01:02:03.500")
    }

    /// A one-lead record of `rate` Hz holding a few seconds of a flat line.
    private func writeRecord(rate: Double) throws -> String {
        let header = RecordHeader(
            name: "slow", signals: [SignalSpec(fileName: "slow.dat", format: .int16, gain: 200, description: "MLII")],
            samplingFrequency: rate)
        try RecordWriter.write(header, samples: [[Int32](repeating: 0, count: 400)], directory: directory.path)
        return directory.appendingPathComponent("slow").path
    }

    func testItem3_DetectionRefusesARateBelowWhatAnECGNeeds() throws {
        let path = try writeRecord(rate: 10)
        XCTAssertThrowsError(try RecordQRSAnalysis.detect(recordPath: path, lead: nil)) { error in
            XCTAssertEqual(
                error as? QRSAnalysisError, .unusableSamplingRate(header: path + ".hea", rate: 10))
            XCTAssertTrue(
                "\(error)".hasSuffix(
                    "sampling rate 10.0 Hz is outside 50 Hz to 10 kHz, where QRS complexes can be detected"), "\(error)"
            )
        }
    }

    func testItem3_DetectionRefusesARateAboveWhatAnECGUses() throws {
        let path = try writeRecord(rate: 500_000)
        XCTAssertThrowsError(try RecordQRSAnalysis.detect(recordPath: path, lead: nil)) { error in
            XCTAssertEqual(error as? QRSAnalysisError, .unusableSamplingRate(header: path + ".hea", rate: 500_000))
        }
    }

    func testItem3_TheUsableECGRangeIsClosed() {
        XCTAssertTrue(ECGSamplingRate.isUsable(50))
        XCTAssertTrue(ECGSamplingRate.isUsable(10_000))
        XCTAssertFalse(ECGSamplingRate.isUsable(49.9))
        XCTAssertFalse(ECGSamplingRate.isUsable(.infinity))
        XCTAssertFalse(ECGSamplingRate.isUsable(.nan))
    }
}
