import Foundation
import XCTest

/// `pipe wfdb info` as a user runs it, on records other databases ship: header(5) defaults must be applied
/// and shown, not refused.
final class WFDBInfoCommandLineTests: XCTestCase {
    func testInfoShowsTheGainDefaultOnAHeaderWithGainZero() throws {
        let harness = try BinaryHarness()
        // A Holter-style record: gain 0 ("uncalibrated"), 128 Hz, an unnamed lead, four samples.
        try harness.write("h.hea", "h 1 128 4\nh.dat 16 0 12 0 0 400 0 ECG1\n")
        let samples: [Int16] = [0, 200, -200, 400]
        let bytes = samples.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
        try Data(bytes).write(to: harness.root.appendingPathComponent("h.dat"))
        let info = try harness.run(["wfdb", "info", "h"])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("gain 200 adu/mV (default: header says 0;"), info.stdout)
        XCTAssertTrue(info.stdout.contains("checksum ok"), info.stdout)
        let json = try harness.run(["wfdb", "info", "h", "--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        XCTAssertTrue(json.stdout.contains("\"gain\" : \"header says 0\""), json.stdout)
        let samplesOut = try harness.run(["wfdb", "samples", "h", "--physical", "--csv"])
        XCTAssertEqual(samplesOut.stdout, "sample,ECG1\n0,0.000\n1,1.000\n2,-1.000\n3,2.000\n", samplesOut.stderr)
    }
}
