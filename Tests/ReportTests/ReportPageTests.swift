import Foundation
import Tracking
import XCTest

@testable import Report

/// The HTML builder and the pieces that compute, without a browser.
final class ReportPageTests: XCTestCase {
    func testAParamValueThatClosesTheScriptCannotInjectMarkup() throws {
        let attack = "</script><img src=x onerror=alert(1)>"
        let made = try ReportFixture.make(runs: 3, note: { $0 == 1 ? attack : "plain \($0)" })
        let html = ReportPage(content: try ReportFixture.content(made)).html()
        XCTAssertFalse(html.contains("<img"), "the attack's tag reached the page")
        XCTAssertTrue(html.contains("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"), "the value is shown, escaped")
        XCTAssertTrue(html.contains("\\u003c\\/script\\u003e\\u003cimg"), "the page data holds it \\u-escaped")
        // Exactly two script elements end: the page data and the page's script.
        XCTAssertEqual(html.components(separatedBy: "</script>").count - 1, 2)
    }

    func testEscapingCoversEveryMarkupCharacter() {
        XCTAssertEqual(
            HTMLText.escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
        XCTAssertEqual(
            HTMLText.scriptJSON("{\"k\":\"</script><!--&\u{2028}\"}"),
            "{\"k\":\"\\u003c/script\\u003e\\u003c!--\\u0026\\u2028\"}")
    }

    func testTheBestValueIsTheLowestForLossAndErrorAndTheHighestOtherwise() throws {
        XCTAssertEqual(MetricDirection(key: "train.val_loss"), .lowerIsBetter)
        XCTAssertEqual(MetricDirection(key: "eval.Error_rate"), .lowerIsBetter)
        XCTAssertEqual(MetricDirection(key: "eval.accuracy"), .higherIsBetter)
        let made = try ReportFixture.make(runs: 4, evaluation: true)
        let page = ReportPage(content: try ReportFixture.content(made))
        let runs = page.content.listing.runs
        let best = page.bestRuns()
        let lossBest = try XCTUnwrap(best["train.loss"])
        XCTAssertEqual(
            lossBest.map { runs[$0].metrics["train.loss"] }, [runs.compactMap { $0.metrics["train.loss"] }.min()])
        let accuracyBest = try XCTUnwrap(best["eval.accuracy"])
        XCTAssertEqual(
            accuracyBest.map { runs[$0].run.id }, [made.ids[3]], "run 3 has the highest eval.accuracy")
        XCTAssertEqual(
            page.html().components(separatedBy: "class=\"num best\"").count - 1, best.values.map(\.count).reduce(0, +))
    }

    func testDecimationKeepsTheEndsAndTheExtremesWithinItsBudget() {
        var values = (0..<1000).map { sin(Double($0) / 30) }
        values[417] = 9
        values[733] = -9
        let kept = Decimation.indices(of: values, maxPoints: 60)
        XCTAssertLessThanOrEqual(kept.count, 60)
        XCTAssertEqual(kept.first, 0)
        XCTAssertEqual(kept.last, 999)
        XCTAssertTrue(kept.contains(417) && kept.contains(733), "the spikes survive")
        XCTAssertEqual(kept, kept.sorted(), "in step order")
        XCTAssertEqual(Set(kept).count, kept.count)
    }

    func testDecimationLeavesAShortHistoryAlone() {
        XCTAssertEqual(Decimation.indices(of: [3, 1, 2], maxPoints: 60), [0, 1, 2])
        XCTAssertEqual(Decimation.pointsPerLine(lines: 1), 500)
        XCTAssertEqual(Decimation.pointsPerLine(lines: 200), 30)
    }

    func testALongHistoryIsDecimatedAndTheChartSaysSo() throws {
        let made = try ReportFixture.make(runs: 2, steps: 1200, evaluation: false)
        let page = ReportPage(content: try ReportFixture.content(made))
        let loss = try XCTUnwrap(page.charts().first { $0.key == "train.loss" })
        XCTAssertTrue(loss.decimated)
        XCTAssertTrue(loss.lines.allSatisfy { $0.steps.count <= 500 && $0.loggedPoints == 1200 })
        XCTAssertTrue(page.html().contains("decimated for drawing: at most 500 of 1200 points per line"))
        let short = ReportPage(content: try ReportFixture.content(try ReportFixture.make(runs: 2, steps: 50)))
        XCTAssertFalse(short.html().contains("decimated for drawing"))
    }

    func testTheSelectionIsTheQueryOfRunsList() throws {
        let made = try ReportFixture.make(runs: 6)
        let filter = try FilterExpression(parsing: "params.train.lr > 0.0015 and status = succeeded")
        let query = RunQuery(filter: filter, sort: [.newestFirst], limit: 3)
        let content = try ReportContent.load(
            store: made.store, selection: .query(query, description: "q"), graph: nil, header: ReportFixture.header)
        XCTAssertEqual(content.listing.runs.map(\.run.id), try made.store.list(query).runs.map(\.run.id))
        XCTAssertEqual(content.listing.runs.map(\.run.id), [made.ids[5], made.ids[4], made.ids[3]])
    }

    func testNamedRunsKeepTheirOrderAndAnUnknownRunIsAnError() throws {
        let made = try ReportFixture.make(runs: 3)
        let content = try ReportContent.load(
            store: made.store, selection: .runs([made.ids[0].rawValue, "@last", made.ids[0].rawValue]), graph: nil,
            header: ReportFixture.header)
        XCTAssertEqual(content.listing.runs.map(\.run.id), [made.ids[0], made.ids[2]])
        XCTAssertEqual(content.listing.differingParamKeys, ["train.lr", "train.note"])
        XCTAssertThrowsError(
            try ReportContent.load(
                store: made.store, selection: .runs(["ZZZZZZZZ"]), graph: nil, header: ReportFixture.header)
        ) { error in XCTAssertEqual(error as? TrackingError, .runNotFound(reference: "ZZZZZZZZ")) }
    }

    func testAWhereThatMatchesNothingIsAnError() throws {
        let made = try ReportFixture.make(runs: 2)
        let query = RunQuery(filter: try FilterExpression(parsing: "metrics.eval.accuracy > 5"), sort: [.newestFirst])
        XCTAssertThrowsError(
            try ReportContent.load(
                store: made.store, selection: .query(query, description: "matching metrics.eval.accuracy > 5"),
                graph: nil, header: ReportFixture.header)
        ) { error in
            XCTAssertEqual(error as? ReportError, .noRuns(selection: "matching metrics.eval.accuracy > 5"))
        }
    }

    func testAnEvaluationIsReadFromGenericKeysAndItsRowsAreNamedBySupport() throws {
        let made = try ReportFixture.make(runs: 1)
        let summary = try XCTUnwrap(try made.store.list().runs.first)
        let evaluations = EvaluationMetrics.find(in: summary.metrics)
        XCTAssertEqual(evaluations.count, 1)
        let evaluation = try XCTUnwrap(evaluations.first)
        XCTAssertEqual(evaluation.prefix, "eval")
        XCTAssertEqual(evaluation.matrix, ReportFixture.confusion)
        XCTAssertEqual(evaluation.classes, ReportFixture.classes, "N S V F Q: matrix order, found through supports")
        XCTAssertTrue(evaluation.classesLabelMatrix)
        XCTAssertEqual(evaluation.perClass["V"]?["se"], 30.0 / 32)
        XCTAssertTrue(EvaluationMetrics.isEvaluationKey("eval.confusion.0.3"))
        XCTAssertFalse(EvaluationMetrics.isEvaluationKey("eval.accuracy"))
        XCTAssertEqual(EvaluationMetrics.find(in: ["train.loss": 1]), [])
    }

    func testAnEvaluationRecordedAsStructuredValuesIsFoundAsTheFlattenedOneWas() throws {
        let made = try ReportFixture.make(runs: 1, evaluation: false)
        let flattened = try XCTUnwrap(try ReportFixture.make(runs: 1).store.list().runs.first)
        // The same evaluation as a metrics file (as ecg.evaluate writes it), recorded whole: matrix and table.
        var perClass: [String: [String: Double]] = [:]
        for (key, value) in flattened.metrics where key.hasPrefix("eval.per_class.") {
            let parts = key.split(separator: ".").map(String.init)
            perClass[parts[2], default: [:]][parts[3]] = value
        }
        let document: [String: Any] = ["accuracy": 0.9, "confusion": ReportFixture.confusion, "per_class": perClass]
        let file = made.root.appendingPathComponent("eval.json")
        try JSONSerialization.data(withJSONObject: document).write(to: file)
        try made.store.recordMetricsFile(file, run: made.ids[0], stage: "evaluate", prefix: "eval")
        let summary = try made.store.show(made.ids[0]).summary
        XCTAssertEqual(summary.structuredMetrics.keys.sorted(), ["eval.confusion", "eval.per_class"])
        XCTAssertFalse(summary.metrics.keys.contains(where: EvaluationMetrics.isEvaluationKey))
        XCTAssertEqual(EvaluationMetrics.find(in: summary), EvaluationMetrics.find(in: flattened.metrics))
        let html = ReportPage(content: try ReportFixture.content(made)).html()
        XCTAssertTrue(html.contains("class=\"heat\""))
        XCTAssertFalse(html.contains("No run here logged an evaluation"))
    }

    func testARunWithoutAnEvaluationGetsNoPanels() throws {
        let made = try ReportFixture.make(runs: 2, evaluation: false)
        let html = ReportPage(content: try ReportFixture.content(made)).html()
        XCTAssertTrue(html.contains("No run here logged an evaluation"))
        XCTAssertFalse(html.contains("class=\"heat\""))
    }

    func testTheEvaluationKeysAreNotTableColumns() throws {
        let page = ReportPage(content: try ReportFixture.content(try ReportFixture.make(runs: 2)))
        XCTAssertEqual(page.tableMetricKeys, ["eval.accuracy", "train.accuracy", "train.loss"])
        let filtered = ReportPage(
            content: try ReportFixture.content(try ReportFixture.make(runs: 2), metricFilter: ["train.loss"]))
        XCTAssertEqual(filtered.tableMetricKeys, ["train.loss"])
        XCTAssertEqual(filtered.charts().map(\.key), ["train.loss"])
    }

    func testTheStaticDiffHasTheRowsOfRunsDiff() throws {
        let made = try ReportFixture.make(runs: 3)
        let content = try ReportFixture.content(made)
        let diff = try made.store.diff(made.ids[1], made.ids[2])
        XCTAssertEqual(content.diff, diff, "the two newest, older first, as `pipe runs diff @last~1 @last`")
        let html = ReportPage(content: content).html()
        for row in diff.params + diff.metrics {
            XCTAssertTrue(html.contains("<tr data-key=\"\(HTMLText.escape(row.key))\">"), row.key)
        }
        XCTAssertTrue(html.contains(ReportPage.diffTable("metrics", diff.metrics, numeric: true)))
    }

    func testHistoriesHoldEveryMetricLoggedAtTwoOrMoreStepsInStepOrder() throws {
        let made = try ReportFixture.make(runs: 2, steps: 3)
        let histories = try made.store.histories(of: made.ids)
        XCTAssertEqual(histories[made.ids[1]].map { $0.keys.sorted() }, ["train.accuracy", "train.loss"])
        let loss = try XCTUnwrap(histories[made.ids[1]]?["train.loss"])
        XCTAssertEqual(loss.steps, [1, 2, 3])
        XCTAssertEqual(loss.values, (1...3).map { ReportFixture.lossValue(run: 1, step: $0) })
    }

    func testACurveLeavesOutTheSummaryValueAMetricsFileLogsAtStepZero() {
        let series = MetricSeries(
            key: "train.val_loss", steps: [0, 1, 2, 3], values: [0.2, 0.5, 0.3, 0.25], timestamps: [10, 1, 2, 3])
        XCTAssertEqual(ReportPage.curvePoints(series).steps, [1, 2, 3])
        let early = MetricSeries(key: "x", steps: [0, 1], values: [1, 2], timestamps: [0, 1])
        XCTAssertEqual(ReportPage.curvePoints(early).steps, [0, 1], "a step 0 logged first is the curve's start")
    }

    func testTheStageGraphPlacesStagesByDepthAndNamesOutcomes() throws {
        let made = try ReportFixture.make(runs: 2)
        let content = try ReportFixture.content(made)
        XCTAssertEqual(content.stages.map(\.outcome), [.skipped, .ran, .failed, nil])
        let drawing = StageGraphDrawing(stages: content.stages, run: "x")
        XCTAssertEqual(drawing.depths(), ["prepare": 0, "train": 1, "evaluate": 2, "export": 2])
        let svg = drawing.svg()
        XCTAssertEqual(svg.components(separatedBy: "class=\"edge\"").count - 1, 3)
        XCTAssertTrue(svg.contains("data-stage=\"evaluate\" data-outcome=\"failed\""))
        XCTAssertTrue(svg.contains(">not in this run</text>"))
    }

    func testThePageIsWrittenWholeOrNotAtAll() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let target = folder.appendingPathComponent("report.html")
        try ReportFile.write("<p>one</p>", to: target, display: "report.html")
        try ReportFile.write("<p>two</p>", to: target, display: "report.html")
        XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "<p>two</p>")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["report.html"])
        let missing = folder.appendingPathComponent("no/such/folder/report.html")
        XCTAssertThrowsError(try ReportFile.write("x", to: missing, display: "no/such/folder/report.html")) { error in
            guard case .unwritableOutput(let path, _) = error as? ReportError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "no/such/folder/report.html")
        }
        XCTAssertThrowsError(try ReportFile.write("x", to: folder, display: "folder")) { error in
            XCTAssertEqual(error as? ReportError, .unwritableOutput(path: "folder", reason: "it is a directory"))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["report.html"])
    }

    func testTwoHundredRunsOfTwentyMetricsOfAHundredStepsStayUnderFiveMegabytes() throws {
        let made = try ReportFixture.large.get()
        let html = ReportPage(content: try ReportFixture.content(made, limit: 200)).html()
        XCTAssertLessThan(html.utf8.count, 5_000_000, "\(html.utf8.count) bytes")
        XCTAssertEqual(html.components(separatedBy: "<polyline").count - 1, 200 * 20)
        XCTAssertTrue(html.contains("decimated for drawing: at most 30 of 100 points per line"))
    }
}
