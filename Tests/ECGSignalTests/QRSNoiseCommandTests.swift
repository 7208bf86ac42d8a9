import ECGFixtures
import ECGSignal
import Foundation
import QRSCommands
import WFDB
import XCTest

/// `pipe qrs stress` and the noise annotations of `pipe qrs`, on records the WFDB writer makes here.
final class QRSNoiseCommandTests: XCTestCase {
    private var directory = URL(fileURLWithPath: NSTemporaryDirectory())
    private let rate = 360.0

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("qrs-noise-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    /// `clean`: 450 s of synthetic MLII with its beats as `clean.atr`; `noise`: 450 s of smoothed Gaussian noise
    /// (gain 0 in the header, read as 200, as in the NSTDB noise records).
    private func writeRecords() throws -> (clean: String, noise: String, fixture: SyntheticECG) {
        let fixture = SyntheticECG.regular(samplingRate: rate, beatsPerMinute: 72, duration: 450)
        let ecg = fixture.samples().map { Int32(($0 * 200).rounded()) }
        try RecordWriter.write(
            RecordHeader(
                name: "clean",
                signals: [SignalSpec(fileName: "clean.dat", format: .packed212, gain: 200, description: "MLII")],
                samplingFrequency: rate),
            samples: [ecg], directory: directory.path)
        let beats = fixture.peakSamples.map { Annotation(sample: $0, code: AnnotationCode.code(for: "N") ?? 1) }
        try AnnotationFile.write(beats, record: RecordLocation(directory: directory.path, name: "clean"))
        var random = FixtureRandom(seed: 11)
        var history = [Double](repeating: 0, count: 4)
        let noise = (0..<ecg.count).map { index -> Int32 in
            history[index % 4] = random.nextGaussian()
            return Int32((history.reduce(0, +) * 20).rounded())
        }
        try RecordWriter.write(
            RecordHeader(
                name: "noise", signals: [SignalSpec(fileName: "noise.dat", format: .int16, gain: 200)],
                samplingFrequency: rate),
            samples: [noise], directory: directory.path)
        // As the NSTDB writes it: gain 0 (uncalibrated, read as 200), no checksum.
        try "noise 1 360 \(noise.count)\nnoise.dat 16 0 16 0\n".write(
            to: directory.appendingPathComponent("noise.hea"), atomically: true, encoding: .utf8)
        return (directory.appendingPathComponent("clean").path, directory.appendingPathComponent("noise").path, fixture)
    }

    func testStressAddsNoiseOnlyInsideTheBurstsAndCopiesTheReference() throws {
        let (clean, noise, fixture) = try writeRecords()
        let summary = try NoiseStressRecord.make(
            cleanPath: clean, noisePath: noise, snr: 6, reference: "atr", directory: directory.path, outName: "n6")
        XCTAssertEqual(summary.stretches, [108_000..<151_200])
        let signal = try XCTUnwrap(summary.signals.first)
        // The scale is nst's: RMS noise × scale = p-p QRS × 10^(−6/20) × √2/4.
        XCTAssertEqual(
            signal.noiseAmplitude * signal.scale, signal.qrsAmplitude * pow(10, -0.3) * 2.0.squareRoot() / 4,
            accuracy: 1e-9)
        let original = try WFDBRecord.open(clean).read().channels[0].physical()
        let stressed = try WFDBRecord.open(directory.appendingPathComponent("n6").path).read().channels[0].physical()
        XCTAssertEqual(stressed.count, original.count)
        let before = (0..<108_000).map { abs(stressed[$0] - original[$0]) }.max() ?? 1
        XCTAssertLessThanOrEqual(before, 0.0025 + 1e-9)  // half a step of 200 adu/mV
        let inside = (108_000..<151_200).map { abs(stressed[$0] - original[$0]) }.max() ?? 0
        XCTAssertGreaterThan(inside, 0.1)
        let copied = try AnnotationFile.read(record: RecordLocation(directory: directory.path, name: "n6"))
        XCTAssertEqual(copied.map(\.sample), fixture.peakSamples)
    }

    func testStressRefusesANoiseRecordAtAnotherRate() throws {
        let (clean, _, _) = try writeRecords()
        try RecordWriter.write(
            RecordHeader(
                name: "slow", signals: [SignalSpec(fileName: "slow.dat", format: .int16, gain: 200)],
                samplingFrequency: 250),
            samples: [[Int32](repeating: 1, count: 1000)], directory: directory.path)
        XCTAssertThrowsError(
            try NoiseStressRecord.make(
                cleanPath: clean, noisePath: directory.appendingPathComponent("slow").path, snr: 6, reference: "atr",
                directory: directory.path, outName: "bad")
        ) { error in
            XCTAssertTrue("\(error)".contains("slow.hea"), "\(error)")
        }
    }

    func testDetectionFlagsTheBurstAndTheAnnotationFileRoundTrips() throws {
        let (clean, noise, _) = try writeRecords()
        _ = try NoiseStressRecord.make(
            cleanPath: clean, noisePath: noise, snr: -6, reference: "atr", directory: directory.path, outName: "n")
        let path = directory.appendingPathComponent("n").path
        let detections = try RecordQRSAnalysis.detect(recordPath: path, lead: nil)
        let stretches = detections.lowQualityStretches
        XCTAssertFalse(stretches.isEmpty)
        XCTAssertTrue(stretches.allSatisfy { $0.lowerBound >= 107_000 && $0.upperBound <= 152_000 }, "\(stretches)")
        XCTAssertGreaterThan(detections.unreadableFraction, 0.2)
        XCTAssertLessThanOrEqual(detections.unreadableFraction, 120.0 / 450)
        XCTAssertTrue(QRSReport.lines(detections).contains("could not be read"))

        let file = try RecordQRSAnalysis.writeAnnotations(
            detections, recordPath: path, annotator: "qrs", directory: nil)
        XCTAssertTrue(file.hasSuffix("n.qrs"))
        let written = try AnnotationFile.read(record: RecordLocation(path: path), annotator: "qrs")
        let noiseMarks = written.filter { $0.symbol == "~" }
        XCTAssertEqual(noiseMarks.map(\.sample), stretches.flatMap { [$0.lowerBound, $0.upperBound] })
        // WFDB convention: bit 0 set = signal 0 noisy; subtype 0 = clean again.
        XCTAssertEqual(noiseMarks.map(\.subtype), stretches.flatMap { _ in [1, 0] })
        XCTAssertEqual(written.filter { $0.symbol == "N" }.map(\.sample), detections.peaks)
    }
}
