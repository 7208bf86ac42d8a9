import XCTest

@testable import TrackingExport

/// How a run's entities are split into `runs/log-batch` requests: within every one of MLflow's limits, in as few
/// requests as the limits allow, nothing lost, nothing doubled.
final class LogBatchSplitterTests: XCTestCase {
    private func metrics(_ count: Int, key: String = "train.loss") -> [MLflowMetric] {
        (0..<count).map {
            MLflowMetric(key: key, value: Double($0) / 10, timestamp: 1_700_000_000_000 + Int64($0), step: Int64($0))
        }
    }

    private func pairs(_ count: Int, prefix: String) -> [MLflowKeyValue] {
        (0..<count).map { MLflowKeyValue(key: "\(prefix).\($0)", value: "v\($0)") }
    }

    private func assertWithinLimits(_ batches: [LogBatch], file: StaticString = #filePath, line: UInt = #line) {
        for batch in batches {
            XCTAssertLessThanOrEqual(batch.metrics.count, 1000, file: file, line: line)
            XCTAssertLessThanOrEqual(batch.params.count, 100, file: file, line: line)
            XCTAssertLessThanOrEqual(batch.tags.count, 100, file: file, line: line)
            XCTAssertLessThanOrEqual(batch.entityCount, 1000, file: file, line: line)
            XCTAssertLessThanOrEqual(
                batch.body(runID: String(repeating: "a", count: 32)).count, 1_000_000, file: file, line: line)
        }
    }

    func testATypicalRunFitsInOneRequest() {
        let batches = LogBatchSplitter.split(
            metrics: metrics(200), params: pairs(10, prefix: "train"), tags: pairs(15, prefix: "pipe"))
        XCTAssertEqual(batches.count, 1)
        XCTAssertEqual(batches.first?.metrics.count, 200)
        XCTAssertEqual(batches.first?.params.count, 10)
        XCTAssertEqual(batches.first?.tags.count, 15)
    }

    func testMetricsSplitAtOneThousandPerRequest() {
        let batches = LogBatchSplitter.split(metrics: metrics(2500), params: [], tags: [])
        XCTAssertEqual(batches.map(\.metrics.count), [1000, 1000, 500])
        assertWithinLimits(batches)
    }

    func testParamsAndTagsSplitAtOneHundredPerRequest() {
        let batches = LogBatchSplitter.split(
            metrics: [], params: pairs(250, prefix: "p"), tags: pairs(150, prefix: "t"))
        XCTAssertEqual(batches.map(\.params.count).reduce(0, +), 250)
        XCTAssertEqual(batches.map(\.tags.count).reduce(0, +), 150)
        XCTAssertEqual(batches.count, 3, "100 p + 100 t, 100 p + 50 t, 50 p")
        assertWithinLimits(batches)
    }

    func testTheTotalOfOneThousandEntitiesIsKept() {
        let batches = LogBatchSplitter.split(
            metrics: metrics(1000), params: pairs(50, prefix: "p"), tags: pairs(50, prefix: "t"))
        XCTAssertEqual(batches.count, 2)
        XCTAssertEqual(batches[0].entityCount, 1000)
        XCTAssertEqual(batches[1].metrics.count, 100)
        assertWithinLimits(batches)
    }

    func testLongValuesSplitAtOneMegabyte() {
        let long = String(repeating: "x", count: 5900)
        let params = (0..<100).map { MLflowKeyValue(key: "p\($0)", value: long) }
        let tags = (0..<100).map { MLflowKeyValue(key: "t\($0)", value: long + long) }
        let batches = LogBatchSplitter.split(metrics: [], params: params, tags: tags)
        XCTAssertGreaterThan(batches.count, 1, "1.77 MB of values cannot go in one request")
        assertWithinLimits(batches)
        XCTAssertEqual(batches.map(\.params.count).reduce(0, +), 100)
        XCTAssertEqual(batches.map(\.tags.count).reduce(0, +), 100)
    }

    func testTheBodyIsValidJSONWithEveryValue() throws {
        let batch = try XCTUnwrap(
            LogBatchSplitter.split(
                metrics: [
                    MLflowMetric(key: "a", value: 0.001, timestamp: 5, step: 2),
                    MLflowMetric(key: "b", value: .nan, timestamp: 6, step: 0),
                ],
                params: [MLflowKeyValue(key: "q\"uote", value: "line\nbreak\\")], tags: []
            ).first)
        let object = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(batch.body(runID: "r1"))) as? [String: Any])
        XCTAssertEqual(object["run_id"] as? String, "r1")
        let metrics = try XCTUnwrap(object["metrics"] as? [[String: Any]])
        XCTAssertEqual(metrics[0]["value"] as? Double, 0.001)
        XCTAssertEqual(metrics[0]["step"] as? Int, 2)
        XCTAssertEqual(metrics[1]["value"] as? String, "NaN")
        let params = try XCTUnwrap(object["params"] as? [[String: Any]])
        XCTAssertEqual(params[0]["key"] as? String, "q\"uote")
        XCTAssertEqual(params[0]["value"] as? String, "line\nbreak\\")
    }
}
