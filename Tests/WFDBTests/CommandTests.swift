import ArgumentParser
import XCTest

@testable import WFDB
@testable import WFDBCommands

/// `pipe wfdb` subcommands, run in-process on a record the test writes.
final class CommandTests: XCTestCase {
    private var directory: TemporaryDirectory!
    private var recordPath = ""

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
        let specs = [
            SignalSpec(
                fileName: "t.dat", format: .packed212, gain: 200, baseline: 1024, adcZero: 1024, description: "MLII"),
            SignalSpec(fileName: "t.dat", format: .packed212, gain: 100, description: "V5"),
        ]
        let samples: [[Int32]] = [(0..<1000).map { Int32(1024 + $0 % 50) }, (0..<1000).map { Int32($0 % 7) - 3 }]
        try RecordWriter.write(
            RecordHeader(name: "t", signals: specs, samplingFrequency: 100, sampleCount: 1000),
            samples: samples, directory: directory.path)
        try AnnotationFile.write(
            [
                Annotation(sample: 5, code: 28, aux: "(N\0"), Annotation(sample: 150, code: 1),
                Annotation(sample: 950, code: 5, channel: 1),
            ],
            record: RecordLocation(directory: directory.path, name: "t"))
        recordPath = directory.file("t")
    }

    override func tearDown() { directory = nil }

    private func output(_ body: (inout OutputWriter) throws -> Void) rethrows -> String {
        var collected: [UInt8] = []
        var writer = OutputWriter { collected += $0 }
        try body(&writer)
        writer.flush()
        return String(decoding: collected, as: UTF8.self)
    }

    func testSamplesDigitalRange() throws {
        let command = try WFDBSamplesCommand.parse([recordPath, "--from", "2", "--to", "4"])
        XCTAssertEqual(try output { try command.execute(into: &$0) }, "sample\tMLII\tV5\n2\t1026\t-1\n3\t1027\t0\n")
    }

    func testSamplesPhysicalCSVBySignalNameAndTime() throws {
        let command = try WFDBSamplesCommand.parse(
            [recordPath + ".hea", "--from", "0:00.02", "--to", "3", "--signals", "V5,MLII", "--physical", "--csv"])
        XCTAssertEqual(try output { try command.execute(into: &$0) }, "sample,V5,MLII\n2,-0.010,0.010\n")
    }

    func testSamplesJSON() throws {
        let command = try WFDBSamplesCommand.parse([recordPath, "--to", "2", "--json", "--signals", "0"])
        XCTAssertEqual(
            try output { try command.execute(into: &$0) },
            "{\"record\":\"t\",\"units\":\"digital\",\"signals\":[\"MLII\"],\"rows\":[\n[0,1024],\n[1,1025]\n]}\n")
    }

    func testSamplesRejectsBadTimesAndUnknownSignals() throws {
        let badTime = try WFDBSamplesCommand.parse([recordPath, "--from", "soon"])
        XCTAssertThrowsError(try output { try badTime.execute(into: &$0) })
        let badSignal = try WFDBSamplesCommand.parse([recordPath, "--signals", "V9"])
        XCTAssertThrowsError(try output { try badSignal.execute(into: &$0) }) { error in
            XCTAssertEqual(error as? WFDBError, .unknownSignal(record: recordPath + ".hea", signal: "V9"))
        }
        XCTAssertThrowsError(try WFDBSamplesCommand.parse([recordPath, "--csv", "--json"]))
        XCTAssertThrowsError(try WFDBSamplesCommand.parse([recordPath, "--physical", "--digital"]))
    }

    func testAnnotationsTextCSVAndJSON() throws {
        let text = try output { try WFDBAnnotationsCommand.parse([recordPath]).execute(into: &$0) }
        XCTAssertEqual(text.split(separator: "\n").first, "    0:00.050        5     +    0    0    0\t(N")
        let csv = try output { try WFDBAnnotationsCommand.parse([recordPath, "--csv"]).execute(into: &$0) }
        XCTAssertEqual(
            csv,
            "time,sample,symbol,subtype,chan,num,aux\n0:00.050,5,+,0,0,0,(N\n0:01.500,150,N,0,0,0,\n"
                + "0:09.500,950,V,0,1,0,\n")
        let json = try output { try WFDBAnnotationsCommand.parse([recordPath, "--json"]).execute(into: &$0) }
        XCTAssertTrue(
            json.contains(
                "{\"time\":\"0:09.500\",\"sample\":950,\"symbol\":\"V\",\"subtype\":0,\"chan\":1,\"num\":0,\"aux\":null}"
            ))
    }

    func testInfoReportsHeaderAndSignalSummary() throws {
        let text = try output { try WFDBInfoCommand.parse([recordPath]).execute(into: &$0) }
        XCTAssertTrue(text.contains("Sampling frequency: 100 Hz"), text)
        XCTAssertTrue(text.contains("digital range 1024..1073, invalid samples 0, checksum ok"), text)
        let json = try output { try WFDBInfoCommand.parse([recordPath, "--json"]).execute(into: &$0) }
        XCTAssertTrue(json.contains("\"checksum\" : \"ok\""), json)
        XCTAssertTrue(json.contains("\"samples\" : 1000"), json)
    }

    func testCheckReportsEachRecord() throws {
        let text = try output { try WFDBCheckCommand.parse([directory.path]).execute(into: &$0) }
        XCTAssertEqual(text, "t\tsignals 2\tsamples 1000\tannotations 3\tchecksum ok\tinvalid 0\n")
    }

    func testCheckFailsOnChecksumMismatch() throws {
        // Corrupt one sample in the signal file: the checksum no longer matches (a warning, exit 1).
        var bytes = try directory.bytes("t.dat")
        bytes[30] ^= 0x01
        try directory.write("t.dat", bytes: bytes)
        XCTAssertThrowsError(
            try output { writer in
                defer { writer.flush() }
                try WFDBCheckCommand.parse([recordPath]).execute(into: &writer)
            }
        ) { error in
            XCTAssertEqual(error as? ExitCode, ExitCode(1))
        }
        let printed = output { try? WFDBCheckCommand.parse([recordPath]).execute(into: &$0) }
        XCTAssertTrue(printed.contains("checksum mismatch"), printed)
        let block = try WFDBRecord.open(recordPath).read()
        XCTAssertEqual(block.warnings.count, 1)
        XCTAssertTrue(block.warnings[0].contains("checksum mismatch"))
    }

    func testBadInputSurfacesAsWFDBError() throws {
        try directory.write("bad.hea", "bad 1 360 10\nbad.dat 516\n")
        XCTAssertThrowsError(try output { try WFDBInfoCommand.parse([directory.file("bad")]).execute(into: &$0) }) {
            XCTAssertTrue(($0 as? WFDBError)?.description.contains("unsupported format 516") == true)
        }
    }

    func testHelpListsTheSubcommands() {
        let help = WFDBCommand.helpMessage()
        for name in ["info", "samples", "annotations", "check"] {
            XCTAssertTrue(help.contains(name), "help lacks \(name):\n\(help)")
        }
        let samplesHelp = WFDBCommand.helpMessage(for: WFDBSamplesCommand.self)
        for flag in ["--from", "--to", "--signals", "--physical", "--digital", "--csv", "--json"] {
            XCTAssertTrue(samplesHelp.contains(flag), "samples help lacks \(flag):\n\(samplesHelp)")
        }
    }
}

extension CommandTests {
    func testCheckListsUnreadableRecordsAndRethrowsTheFirstError() throws {
        try directory.write("broken.hea", "broken 1 360 10\nbroken.dat 16\n")
        var printed = ""
        XCTAssertThrowsError(
            try output { writer in
                defer {
                    writer.flush()
                }
                try WFDBCheckCommand.parse([directory.path]).execute(into: &writer)
            }
        ) { error in
            XCTAssertEqual(
                error as? WFDBError,
                .signalFileNotFound(header: directory.file("broken.hea"), line: 2, file: "broken.dat"))
        }
        printed = output { try? WFDBCheckCommand.parse([directory.path]).execute(into: &$0) }
        XCTAssertTrue(printed.hasPrefix("broken\terror: "), printed)
        XCTAssertTrue(printed.contains("t\tsignals 2\tsamples 1000"), printed)
    }
}
