import XCTest

@testable import WFDB

/// header(5) parsing: every field, WFDB's defaults, comments, line endings.
final class HeaderParserTests: XCTestCase {
    func testMITBIHStyleHeaderWithCRLF() throws {
        let text =
            "100 2 360 650000\r\n100.dat 212 200 11 1024 995 -22131 0 MLII\r\n"
            + "100.dat 212 200 11 1024 1011 20052 0 V5\r\n# 69 M 1085 1629 x1\r\n# Aldomet, Inderal\r\n"
        let header = try HeaderParser.parse(text: text, file: "100.hea")
        XCTAssertEqual(header.name, "100")
        XCTAssertEqual(header.samplingFrequency, 360)
        XCTAssertEqual(header.sampleCount, 650_000)
        XCTAssertEqual(header.signals.count, 2)
        let signal = header.signals[0]
        XCTAssertEqual(signal.fileName, "100.dat")
        XCTAssertEqual(signal.format, .packed212)
        XCTAssertEqual(signal.gain, 200)
        XCTAssertEqual(signal.baseline, 1024)
        XCTAssertEqual(signal.units, "mV")
        XCTAssertEqual(signal.adcResolution, 11)
        XCTAssertEqual(signal.adcZero, 1024)
        XCTAssertEqual(signal.initialValue, 995)
        XCTAssertEqual(signal.checksum, -22131)
        XCTAssertEqual(signal.blockSize, 0)
        XCTAssertEqual(signal.description, "MLII")
        XCTAssertEqual(signal.line, 2)
        XCTAssertEqual(header.comments, ["69 M 1085 1629 x1", "Aldomet, Inderal"])
    }

    func testDefaultsForMissingFields() throws {
        let header = try HeaderParser.parse(text: "rec 1\nrec.dat 16\n", file: "rec.hea")
        XCTAssertEqual(header.samplingFrequency, 250)
        XCTAssertNil(header.sampleCount)
        let signal = header.signals[0]
        XCTAssertEqual(signal.gain, 200)
        XCTAssertEqual(signal.baseline, 0)
        XCTAssertEqual(signal.units, "mV")
        XCTAssertEqual(signal.adcResolution, 12, "header(5): 12 bits for an amplitude format")
        XCTAssertEqual(signal.initialValue, 0)
        XCTAssertNil(signal.checksum)
        XCTAssertEqual(signal.description, "record rec, signal 0")
    }

    func testFormatModifiersGainBaselineUnitsAndDescriptionWithSpaces() throws {
        let text =
            "r 1 1000/2000(15) 10 10:20:30.250 03/04/2005\nr.dat 16x4:3+512 1000.5(-20)/uV 0 7 9 11 0 lead I (chest)\n"
        let header = try HeaderParser.parse(text: text, file: "r.hea")
        XCTAssertEqual(header.samplingFrequency, 1000)
        XCTAssertEqual(header.counterFrequency, 2000)
        XCTAssertEqual(header.baseCounter, 15)
        XCTAssertEqual(header.baseTime, "10:20:30.250")
        XCTAssertEqual(header.baseDate, "03/04/2005")
        let signal = header.signals[0]
        XCTAssertEqual(signal.samplesPerFrame, 4)
        XCTAssertEqual(signal.skew, 3)
        XCTAssertEqual(signal.byteOffset, 512)
        XCTAssertEqual(signal.gain, 1000.5)
        XCTAssertEqual(signal.baseline, -20)
        XCTAssertEqual(signal.units, "uV")
        XCTAssertEqual(signal.adcResolution, 12, "0 means the format's default")
        XCTAssertEqual(signal.adcZero, 7)
        XCTAssertEqual(signal.initialValue, 9)
        XCTAssertEqual(signal.checksum, 11)
        XCTAssertEqual(signal.description, "lead I (chest)")
    }

    func testBaselineDefaultsToAdcZero() throws {
        let header = try HeaderParser.parse(text: "r 1 360\nr.dat 212 200 12 512\n", file: "r.hea")
        XCTAssertEqual(header.signals[0].baseline, 512)
        XCTAssertEqual(header.signals[0].initialValue, 512)
    }

    func testMultiSegmentHeader() throws {
        let header = try HeaderParser.parse(text: "m/3 2 250 300\nlayout 0\nseg1 100\n~ 200\n", file: "m.hea")
        XCTAssertEqual(header.segments?.map(\.name), ["layout", "seg1", "~"])
        XCTAssertEqual(header.segments?.map(\.sampleCount), [0, 100, 200])
        XCTAssertEqual(header.segments?[2].isNull, true)
        XCTAssertEqual(header.signalCount, 2)
    }

    func testSampleTimes() {
        XCTAssertEqual(SampleTime.parse("650000", frequency: 360), 650_000)
        XCTAssertEqual(SampleTime.parse("1:00", frequency: 360), 21_600)
        XCTAssertEqual(SampleTime.parse("00:00:01.5", frequency: 360), 540)
        XCTAssertEqual(SampleTime.parse("2.5", frequency: 100), 250)
        XCTAssertNil(SampleTime.parse("abc", frequency: 360))
        XCTAssertNil(SampleTime.parse("-5", frequency: 360))
        XCTAssertEqual(SampleTime.format(frame: 18, frequency: 360), "0:00.050")
        XCTAssertEqual(SampleTime.format(frame: 650_000, frequency: 360), "30:05.556")
        XCTAssertEqual(SampleTime.format(frame: 360 * 3600, frequency: 360), "1:00:00.000")
    }
}
