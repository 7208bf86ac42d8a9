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

    /// The DS2 records with atrial fibrillation: the normal beats inside `(AFIB` that the issue counted (7,271).
    func testTheDS2AtrialFibrillationRecordsHoldTheirNormalBeatsInsideAFIB() throws {
        let directory = try database()
        let records = ["202", "210", "219", "221", "222"]
        let (dataset, _) = try PreprocessStage.build(
            directory: directory, records: records, settings: BeatExtractionSettings())
        let normalInAFIB = (0..<dataset.count).filter {
            dataset.label[$0] == UInt8(AAMIClass.N.index) && dataset.rhythmName(of: $0) == "AFIB"
        }
        XCTAssertEqual(normalInAFIB.count, 7_271)
        XCTAssertTrue(Set(dataset.rhythmNames).isSuperset(of: ["N", "AFIB", "AFL"]), "\(dataset.rhythmNames)")
        XCTAssertEqual(dataset.rhythm.filter { $0 == 0 }.count, 0, "each record starts with a rhythm annotation")
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
