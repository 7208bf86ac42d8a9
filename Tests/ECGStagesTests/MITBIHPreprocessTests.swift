import ECGSignal
import ECGStages
import Foundation
import XCTest

/// The full database, when `PIPE_MITDB_SOURCE` names it.
final class MITBIHPreprocessTests: XCTestCase {
    private func database() throws -> URL {
        guard let path = ProcessInfo.processInfo.environment["PIPE_MITDB_SOURCE"], !path.isEmpty else {
            throw XCTSkip("PIPE_MITDB_SOURCE is not set; the full MIT-BIH tests are skipped")
        }
        return URL(fileURLWithPath: path)
    }

    /// The original project cut channel 0 at the annotated peaks; its class counts are the reference.
    func testChannelZeroOnAnnotatedPeaksReproducesTheOriginalClassCounts() throws {
        let directory = try database()
        var settings = BeatExtractionSettings()
        settings.lead = .index(0)
        let records = try PreprocessStage.recordNames(in: directory, requested: nil)
        XCTAssertEqual(records.count, 48)
        let (dataset, _) = try PreprocessStage.build(directory: directory, records: records, settings: settings)
        XCTAssertEqual(dataset.classCounts, [90_607, 2_781, 7_235, 802, 8_042])
        XCTAssertEqual(dataset.count, 109_467)
    }

    func testLeadByNameUsesMLIIWhereverTheRecordHasIt() throws {
        let directory = try database()
        let records = try PreprocessStage.recordNames(in: directory, requested: nil)
        let (dataset, _) = try PreprocessStage.build(
            directory: directory, records: records, settings: BeatExtractionSettings())
        let notMLII = dataset.records.filter { $0.lead != "MLII" }.map(\.name)
        XCTAssertEqual(notMLII, ["102", "104"])
        XCTAssertEqual(dataset.count, 109_467)
    }
}
