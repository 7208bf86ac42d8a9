import ECGSignal
import Foundation
import QRSCommands
import XCTest

/// QRS detection over the whole MIT-BIH Arrhythmia Database, by the bxb rules (150 ms, first 5 minutes left
/// out). Runs only when PIPE_MITDB_SOURCE names a local copy of the database.
final class MITBIHDetectionTests: XCTestCase {
    func testGrossSensitivityAndPositivePredictivityOnAllRecords() throws {
        guard let source = ProcessInfo.processInfo.environment["PIPE_MITDB_SOURCE"], !source.isEmpty else {
            throw XCTSkip("set PIPE_MITDB_SOURCE to a local MIT-BIH Arrhythmia Database directory to run this test")
        }
        guard !source.hasPrefix("http://"), !source.hasPrefix("https://") else {
            throw XCTSkip("PIPE_MITDB_SOURCE is a URL; this test needs a local directory")
        }
        let listing = try String(contentsOfFile: source + "/RECORDS", encoding: .utf8)
        let names = listing.split(whereSeparator: \.isNewline).map(String.init)
        XCTAssertEqual(names.count, 48, "MIT-BIH has 48 records")
        let evaluation = try RecordQRSAnalysis.evaluate(
            recordPaths: names.map { source + "/" + $0 }, reference: "atr", lead: nil, includeAll: false)
        print(QRSReport.table(evaluation), terminator: "")
        let gross = evaluation.gross
        XCTAssertGreaterThanOrEqual(gross.sensitivity ?? 0, 99.7)
        XCTAssertGreaterThanOrEqual(gross.positivePredictivity ?? 0, 99.7)
    }
}
