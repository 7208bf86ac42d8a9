import ArgumentParser
import XCTest

@testable import WFDB
@testable import WFDBCommands

/// header(5) and signal(5): every field default and special value, one test per rule, on records the tests
/// write. Each test also checks that the parsed header records the default it applied.
final class HeaderConformanceTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws { directory = try TemporaryDirectory() }
    override func tearDown() { directory = nil }

    /// Writes `r.hea` (text, or raw bytes) and `r.dat` holding `samples` as format 16.
    private func record(_ header: String, samples: [Int16] = [0, 200, -200, 400]) throws -> WFDBRecord {
        try directory.write("r.hea", header)
        try writeFormat16(samples)
        return try WFDBRecord.open(directory.file("r"))
    }

    private func writeFormat16(_ samples: [Int16]) throws {
        let bytes = samples.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
        try directory.write("r.dat", bytes: bytes)
    }

    private func signal(_ line: String, format: String = "16") throws -> SignalSpec {
        let header = try HeaderParser.parse(text: "r 1 360 4\nr.dat \(format) \(line)\n", file: "r.hea")
        return header.signals[0]
    }

    // MARK: signal line

    func testGainZeroMeansTwoHundred() throws {
        let opened = try record("r 1 360 4\nr.dat 16 0 12 0 0 0 0 ECG\n")
        let spec = opened.signals[0]
        XCTAssertEqual(spec.gain, 200)
        XCTAssertEqual(spec.appliedDefault(.gain), AppliedDefault(.gain, given: "0"))
        XCTAssertEqual(try opened.read().channels[0].physical(), [0, 1, -1, 2])
    }

    func testGainZeroKeepsItsBaselineAndUnits() throws {
        let spec = try signal("0(100)/uV 12 0")
        XCTAssertEqual(spec.gain, 200)
        XCTAssertEqual(spec.baseline, 100)
        XCTAssertEqual(spec.units, "uV")
        XCTAssertEqual(spec.defaults.map(\.field), [.gain, .initialValue, .checksum, .blockSize, .description])
    }

    func testGainMissingMeansTwoHundredADCUnitsPerMillivolt() throws {
        let spec = try signal("")
        XCTAssertEqual(spec.gain, 200)
        XCTAssertEqual(spec.units, "mV")
        XCTAssertEqual(spec.appliedDefault(.gain), AppliedDefault(.gain))
        XCTAssertEqual(spec.appliedDefault(.units), AppliedDefault(.units))
    }

    func testNonFiniteGainIsRefused() throws {
        try directory.write("r.hea", "r 1 360 4\nr.dat 16 nan 12 0\n")
        assertWFDBError(try WFDBRecord.open(directory.file("r")), names: directory.file("r.hea"), line: 2) {
            $0 == .invalidGain(file: self.directory.file("r.hea"), line: 2, value: "nan")
        }
    }

    func testBaselineMissingDefaultsToTheADCZero() throws {
        let opened = try record("r 1 360 4\nr.dat 16 100 12 200 0 0 0 ECG\n", samples: [200, 300, 100, 0])
        XCTAssertEqual(opened.signals[0].baseline, 200)
        XCTAssertEqual(opened.signals[0].appliedDefault(.baseline)?.rule, "the ADC zero")
        XCTAssertEqual(try opened.read().channels[0].physical(), [0, 1, -1, -2])
    }

    func testUnitsMissingAfterTheGainAreMillivolts() throws {
        let spec = try signal("100(5)/ 12")
        XCTAssertEqual(spec.units, "mV")
        XCTAssertEqual(spec.baseline, 5)
        XCTAssertNotNil(spec.appliedDefault(.units))
    }

    func testADCResolutionMissingOrZeroIsTheFormatsDefault() throws {
        let expected: [SignalFormat: Int] = [
            .null: 12, .diff8: 10, .int16: 12, .int24: 12, .int32: 12, .int16BigEndian: 12, .offset8: 8,
            .offset16: 12, .packed212: 12, .packed310: 10, .packed311: 10,
        ]
        XCTAssertEqual(Set(expected.keys), Set(SignalFormat.allCases))
        for (format, bits) in expected {
            let missing = try signal("200", format: "\(format.rawValue)")
            XCTAssertEqual(missing.adcResolution, bits, "format \(format.rawValue), field missing")
            XCTAssertNil(missing.appliedDefault(.adcResolution)?.given)
            let zero = try signal("200 0", format: "\(format.rawValue)")
            XCTAssertEqual(zero.adcResolution, bits, "format \(format.rawValue), field 0")
            XCTAssertEqual(zero.appliedDefault(.adcResolution)?.given, "0")
        }
        XCTAssertEqual(try signal("200 11").adcResolution, 11)
        XCTAssertNil(try signal("200 11").appliedDefault(.adcResolution))
    }

    func testADCZeroMissingIsZero() throws {
        let spec = try signal("200 12")
        XCTAssertEqual(spec.adcZero, 0)
        XCTAssertEqual(spec.baseline, 0)
        XCTAssertNotNil(spec.appliedDefault(.adcZero))
    }

    func testInitialValueMissingIsTheADCZero() throws {
        // Format 8 stores first differences from the initial value: 1, 2, -1 from 5 are 6, 8, 7.
        try directory.write("r.hea", "r 1 360 3\nr.dat 8 200 10 5\n")
        try directory.write("r.dat", bytes: [1, 2, 0xFF])
        let opened = try WFDBRecord.open(directory.file("r"))
        XCTAssertEqual(opened.signals[0].initialValue, 5)
        XCTAssertEqual(opened.signals[0].appliedDefault(.initialValue)?.rule, "the ADC zero")
        XCTAssertEqual(try opened.read().channels[0].digital, [6, 8, 7])
    }

    func testChecksumMissingIsNotVerifiedAndCheckPasses() throws {
        let opened = try record("r 1 360 4\nr.dat 16 200 16 0 0\n")
        XCTAssertNil(opened.signals[0].checksum)
        XCTAssertNotNil(opened.signals[0].appliedDefault(.checksum))
        XCTAssertEqual(try opened.read().channels[0].checksum, .absent)
        let line = try checkLine()
        XCTAssertTrue(line.contains("checksum absent"), line)
    }

    func testBlockSizeMissingIsZeroAndANegativeOneIsAccepted() throws {
        let missing = try signal("200 16 0 0 0")
        XCTAssertEqual(missing.blockSize, 0)
        XCTAssertNotNil(missing.appliedDefault(.blockSize))
        // header(5): a negative block size marks a file without fseek support.
        let negative = try signal("200 16 0 0 0 -512 tape")
        XCTAssertEqual(negative.blockSize, -512)
        XCTAssertEqual(negative.description, "tape")
        XCTAssertNil(negative.appliedDefault(.blockSize))
    }

    func testDescriptionMissingNamesTheRecordAndSignal() throws {
        let spec = try signal("200 16 0 0 0 0")
        XCTAssertEqual(spec.description, "record r, signal 0")
        XCTAssertNotNil(spec.appliedDefault(.description))
    }

    func testAFullySpecifiedSignalLineAppliesNoDefault() throws {
        let spec = try signal("200(3)/mV 16 0 0 0 0 MLII")
        XCTAssertEqual(spec.defaults, [])
    }

    // MARK: record line

    func testSamplingFrequencyMissingIs250() throws {
        let header = try HeaderParser.parse(text: "r 1\nr.dat 16\n", file: "r.hea")
        XCTAssertEqual(header.samplingFrequency, 250)
        XCTAssertEqual(header.appliedDefault(.samplingFrequency), AppliedDefault(.samplingFrequency))
    }

    func testCounterFrequencyMissingOrNotPositiveIsTheSamplingFrequency() throws {
        let missing = try HeaderParser.parse(text: "r 1 360 4\nr.dat 16\n", file: "r.hea")
        XCTAssertNil(missing.counterFrequency)
        XCTAssertEqual(missing.effectiveCounterFrequency, 360)
        XCTAssertNil(missing.appliedDefault(.counterFrequency)?.given)
        for given in ["0", "-5"] {
            let header = try HeaderParser.parse(text: "r 1 360/\(given)(7) 4\nr.dat 16\n", file: "r.hea")
            XCTAssertEqual(header.effectiveCounterFrequency, 360, given)
            XCTAssertEqual(header.appliedDefault(.counterFrequency)?.given, given)
            XCTAssertEqual(header.effectiveBaseCounter, 7)
        }
    }

    func testBaseCounterMissingIsZero() throws {
        let header = try HeaderParser.parse(text: "r 1 360/720 4\nr.dat 16\n", file: "r.hea")
        XCTAssertEqual(header.effectiveCounterFrequency, 720)
        XCTAssertEqual(header.effectiveBaseCounter, 0)
        XCTAssertNotNil(header.appliedDefault(.baseCounter))
        XCTAssertNil(header.appliedDefault(.counterFrequency))
    }

    func testSampleCountMissingIsDerivedFromTheFileSizeAndChecksumsAreNotVerified() throws {
        // The checksum 0 is header(5)'s placeholder for a record without a length; the data sums to 400.
        let opened = try record("r 1 360\nr.dat 16 200 16 0 0 0 0 ECG\n")
        XCTAssertEqual(opened.frameCount, 4)
        XCTAssertNotNil(opened.header.appliedDefault(.sampleCount))
        XCTAssertEqual(try opened.read().channels[0].checksum, .notChecked)
        XCTAssertTrue(try checkLine().contains("checksum not checked"))
    }

    func testSampleCountZeroMeansUnspecified() throws {
        let opened = try record("r 1 360 0\nr.dat 16 200 16 0 0 0 0 ECG\n")
        XCTAssertEqual(opened.frameCount, 4)
        XCTAssertEqual(opened.header.appliedDefault(.sampleCount)?.given, "0")
        XCTAssertEqual(try opened.read().channels[0].digital, [0, 200, -200, 400])
    }

    func testSignalLinesBeyondTheDeclaredCountAreDisregarded() throws {
        let opened = try record("r 1 360 4\nr.dat 16 200 16 0 0 400 0 I\nr.dat 16 100 16 0 0 0 0 II\n# note\n")
        XCTAssertEqual(opened.signals.map(\.description), ["I"])
        XCTAssertEqual(opened.header.ignoredLines, [3])
        XCTAssertEqual(opened.header.comments, ["note"])
        XCTAssertEqual(try opened.read().channels[0].checksum, .ok)
        XCTAssertTrue(
            try info([]).contains("warning: \(directory.file("r.hea")):3: ignored: the record line declares 1 signal (")
        )
    }

    func testSegmentLinesBeyondTheDeclaredCountAreDisregarded() throws {
        let header = try HeaderParser.parse(text: "m/2 1 360 30\na 10\n~ 20\nb 5\n", file: "m.hea")
        XCTAssertEqual(header.segments?.map(\.name), ["a", "~"])
        XCTAssertEqual(header.ignoredLines, [4])
    }

    // MARK: 8-bit text

    /// A header as `RecordWriter` lays it out, with `µ` (0xB5), `é` (0xE9) and `°` (0xB0) as single bytes.
    private let latin1Header: [UInt8] =
        Array("r 1 360 4\nr.dat 16 200/".utf8) + [0xB5] + Array("V 16 0 0 400 0 ".utf8) + [0xE9]
        + Array("lectrode\n# temp 37".utf8) + [0xB0] + Array("C\n".utf8)

    func testLatin1BytesInUnitsAndDescriptionAreRead() throws {
        try directory.write("r.hea", bytes: latin1Header)
        try writeFormat16([0, 200, -200, 400])
        let opened = try WFDBRecord.open(directory.file("r"))
        XCTAssertEqual(opened.header.textEncoding, .latin1)
        XCTAssertEqual(opened.signals[0].units, "µV")
        XCTAssertEqual(opened.signals[0].description, "électrode")
        XCTAssertEqual(opened.header.comments, ["temp 37°C"])
        XCTAssertEqual(try opened.read().channels[0].physical(), [0, 1, -1, 2])
    }

    func testLatin1HeaderIsWrittenBackByteForByte() throws {
        let header = try HeaderParser.parse(Data(latin1Header), file: "r.hea")
        XCTAssertEqual(RecordWriter.headerBytes(header), latin1Header)
    }

    func testUTF8BytesStayUTF8() throws {
        let bytes = Array("r 1 360 4\nr.dat 16 200/µV 16 0 0 400 0 électrode\n".utf8)
        let header = try HeaderParser.parse(Data(bytes), file: "r.hea")
        XCTAssertEqual(header.textEncoding, .utf8)
        XCTAssertEqual(header.signals[0].units, "µV")
        XCTAssertEqual(RecordWriter.headerBytes(header), bytes)
    }

    // MARK: pipe wfdb info

    func testInfoShowsWhereADefaultWasApplied() throws {
        _ = try record("r 1 128\nr.dat 16 0 12 0 0 0 0 ECG1\n")
        let text = try info([])
        XCTAssertTrue(
            text.contains(
                "gain 200 adu/mV (default: header says 0; default units: not in header), "
                    + "baseline 0 (default: not in header; the ADC zero), ADC 12 bits, zero 0, initial value 0"), text)
        XCTAssertTrue(
            text.contains("Samples:            4 (0:00.031) (default: not in header; from the signal file's size"), text
        )
        XCTAssertTrue(text.contains("Sampling frequency: 128 Hz\n"), text)
        XCTAssertTrue(text.contains("checksum not checked"), text)
    }

    func testInfoJSONListsTheDefaultsPerSignalAndRecord() throws {
        _ = try record("r 1 128/0\nr.dat 16 0 12 0 0 0 0 ECG1\n")
        let json = try JSONSerialization.jsonObject(with: Data(try info(["--json"]).utf8)) as? [String: Any]
        let signal = (json?["signals"] as? [[String: Any]])?.first
        XCTAssertEqual(signal?["gain"] as? Double, 200)
        XCTAssertEqual(
            signal?["defaults"] as? [String: String],
            ["gain": "header says 0", "units": "not in header", "baseline": "not in header; the ADC zero"])
        let record = json?["defaults"] as? [String: String]
        XCTAssertEqual(record?["counterFrequency"], "header says 0; the sampling frequency")
        XCTAssertEqual(json?["counterFrequency"] as? Double, 128)
        XCTAssertEqual(record?["baseCounter"], "not in header")
    }

    private func info(_ arguments: [String]) throws -> String {
        var collected: [UInt8] = []
        var writer = OutputWriter { collected += $0 }
        try WFDBInfoCommand.parse([directory.file("r")] + arguments).execute(into: &writer)
        writer.flush()
        return String(decoding: collected, as: UTF8.self)
    }

    /// `pipe wfdb check` on the test's record: its one output line.
    private func checkLine() throws -> String {
        var collected: [UInt8] = []
        var writer = OutputWriter { collected += $0 }
        try WFDBCheckCommand.parse([directory.file("r"), "--annotator", "-"]).execute(into: &writer)
        writer.flush()
        return String(decoding: collected, as: UTF8.self)
    }
}
