import ECGFixtures
import ECGSignal
import Foundation
import QRSCommands
import WFDB
import XCTest

/// `pipe qrs resample`: a record at another rate, with its annotations moved along.
final class QRSResampleCommandTests: XCTestCase {
    private var directory = URL(fileURLWithPath: NSTemporaryDirectory())

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("qrs-resample-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    func testARecordAt128HzKeepsItsBeatsWhereTheDetectorFindsThem() throws {
        let fixture = SyntheticECG.regular(samplingRate: 360, beatsPerMinute: 72, duration: 30)
        try RecordWriter.write(
            RecordHeader(
                name: "source",
                signals: [SignalSpec(fileName: "source.dat", format: .packed212, gain: 200, description: "MLII")],
                samplingFrequency: 360),
            samples: [fixture.samples().map { Int32(($0 * 200).rounded()) }], directory: directory.path)
        let beats = fixture.peakSamples.map { Annotation(sample: $0, code: AnnotationCode.code(for: "N") ?? 1) }
        try AnnotationFile.write(beats, record: RecordLocation(directory: directory.path, name: "source"))
        let out = directory.appendingPathComponent("128")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)

        let frames = try ResampledRecord.make(
            sourcePath: directory.appendingPathComponent("source").path, rate: 128, reference: "atr",
            directory: out.path, outName: "low")
        let record = try WFDBRecord.open(out.appendingPathComponent("low").path)
        XCTAssertEqual(record.header.samplingFrequency, 128)
        XCTAssertEqual(record.frameCount, frames)
        XCTAssertEqual(frames, Resampler(inputRate: 360, outputRate: 128).outputCount(forInputCount: 30 * 360))
        XCTAssertEqual(record.signals.first?.description, "MLII")
        let moved = try AnnotationFile.read(record: record.location, annotator: "atr")
        XCTAssertEqual(moved.map(\.sample), beats.map { Int((Double($0.sample) * 128 / 360).rounded()) })
        let signal = try record.read().channels[0].physical()
        let detected = QRSDetector(samplingRate: 128).detect(signal)
        let matched = matchedCount(detected, moved.map(\.sample), tolerance: 3)
        XCTAssertGreaterThanOrEqual(matched, moved.count - 2, "the beats are where the annotations say")
    }

    func testARateOutsideTheUsableRangeIsRefusedNamingTheRecord() throws {
        try RecordWriter.write(
            RecordHeader(
                name: "flat", signals: [SignalSpec(fileName: "flat.dat", format: .int16, description: "MLII")],
                samplingFrequency: 360),
            samples: [[Int32](repeating: 0, count: 3600)], directory: directory.path)
        XCTAssertThrowsError(
            try ResampledRecord.make(
                sourcePath: directory.appendingPathComponent("flat").path, rate: 20, reference: "atr",
                directory: directory.path, outName: "low")
        ) { error in
            XCTAssertTrue("\(error)".contains("flat.hea: sampling rate 20.0 Hz is outside"), "\(error)")
        }
    }

    /// Detections within `tolerance` samples of a reference beat.
    private func matchedCount(_ detections: [Int], _ reference: [Int], tolerance: Int) -> Int {
        detections.filter { detection in reference.contains { abs($0 - detection) <= tolerance } }.count
    }
}
