import Foundation
import Tracking
import XCTest

@testable import Report

/// The page in a real headless Chromium, loaded from file://, driven over the DevTools protocol by
/// scripts/report_browser.py (standard-library Python: a WebSocket client, real mouse events, a PNG decoder).
final class ReportBrowserTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        guard Self.executable("chromium") != nil else {
            throw XCTSkip("chromium is not installed (apt-get install chromium)")
        }
        guard Self.python != nil else { throw XCTSkip("python3 is not installed (needed to drive chromium)") }
        folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pipe-report-browser-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }

    // MARK: Driving the browser

    static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    static var python: String? {
        if let configured = ProcessInfo.processInfo.environment["PIPE_PYTHON"],
            FileManager.default.isExecutableFile(atPath: configured)
        {
            return configured
        }
        return executable("python3")
    }

    static let helper = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/report_browser.py")

    struct Outcome: Decodable {
        var requests: [String]
        var console: [Console]
        var exceptions: [String]
        var results: [JSONValue]

        struct Console: Decodable {
            var level: String
            var text: String
        }
    }

    /// Any JSON value a step returns.
    enum JSONValue: Decodable, Equatable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case array([JSONValue])
        case object([String: JSONValue])
        case null

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(Double.self) {
                self = .number(value)
            } else if let value = try? container.decode(String.self) {
                self = .string(value)
            } else if let value = try? container.decode([JSONValue].self) {
                self = .array(value)
            } else {
                self = .object(try container.decode([String: JSONValue].self))
            }
        }

        var string: String? { if case .string(let value) = self { return value } else { return nil } }
        var number: Double? { if case .number(let value) = self { return value } else { return nil } }
        var strings: [String]? {
            if case .array(let values) = self { return values.compactMap(\.string) } else { return nil }
        }
        subscript(key: String) -> JSONValue? {
            if case .object(let values) = self { return values[key] } else { return nil }
        }
    }

    struct HelperFailure: Error, CustomStringConvertible {
        var status: Int32
        var stderr: String
        var description: String { "scripts/report_browser.py exited \(status): \(stderr)" }
    }

    /// Writes the page, runs the steps in Chromium, returns what happened.
    func browse(_ html: String, javascript: Bool = true, steps: [[String: Any]]) throws -> Outcome {
        let page = folder.appendingPathComponent("report.html")
        try ReportFile.write(html, to: page, display: "report.html")
        let scenario = folder.appendingPathComponent("scenario.json")
        let document: [String: Any] = [
            "page": page.path, "javascript": javascript, "width": 1280, "height": 900, "steps": steps,
        ]
        try JSONSerialization.data(withJSONObject: document).write(to: scenario)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try XCTUnwrap(Self.python))
        process.arguments = [Self.helper.path, "scenario", scenario.path]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HelperFailure(status: process.terminationStatus, stderr: String(decoding: errors, as: UTF8.self))
        }
        do {
            return try JSONDecoder().decode(Outcome.self, from: data)
        } catch {
            XCTFail(
                "helper output: \(String(decoding: data, as: UTF8.self)) \(String(decoding: errors, as: UTF8.self))")
            throw error
        }
    }

    private func page(runs: Int = 5, note: @escaping (Int) -> String = { "run \($0)" }) throws -> (
        String, ReportFixture.Made
    ) {
        let made = try ReportFixture.make(runs: runs, steps: 12, note: note)
        return (ReportPage(content: try ReportFixture.content(made)).html(), made)
    }

    // MARK: Tests

    func testThePageLoadsFromFileWithNoRequestNoConsoleErrorAndTheStoresValues() throws {
        let (html, made) = try page()
        let outcome = try browse(
            html,
            steps: [
                ["eval": "Array.from(document.querySelectorAll('table.runs tbody tr')).map(r => r.dataset.id)"],
                ["eval": "Array.from(document.querySelectorAll('table.runs td.num[title]')).map(c => c.dataset.v)"],
                ["eval": "document.documentElement.className"],
            ])
        XCTAssertEqual(outcome.requests, ["file://" + folder.appendingPathComponent("report.html").path])
        XCTAssertEqual(outcome.exceptions, [])
        XCTAssertEqual(outcome.console.filter { $0.level == "error" || $0.level == "warning" }.map(\.text), [])
        let listing = try made.store.list(RunQuery(sort: [.newestFirst], limit: 10))
        XCTAssertEqual(outcome.results[0].strings, listing.runs.map(\.run.id.rawValue))
        let shownKeys = ["eval.accuracy", "train.accuracy", "train.loss"]
        let stored = listing.runs.flatMap { run in shownKeys.compactMap { run.metrics[$0].map(RunStore.formatNumber) } }
        XCTAssertEqual(outcome.results[1].strings, stored, "every value exactly as the store holds it")
        XCTAssertEqual(outcome.results[2].string, "js", "the page's script ran")
    }

    func testAScreenshotOfThePageIsNotBlank() throws {
        let (html, _) = try page()
        let shot = folder.appendingPathComponent("shot.png")
        let outcome = try browse(html, steps: [["eval": "window.scrollTo(0, 0)"], ["screenshot": shot.path]])
        let statistics = try XCTUnwrap(outcome.results.last)
        XCTAssertEqual(statistics["width"]?.number, 1280)
        XCTAssertGreaterThan(try XCTUnwrap(statistics["distinctColours"]?.number), 30, "text, lines and fills")
        XCTAssertGreaterThan(try XCTUnwrap(statistics["nonWhiteFraction"]?.number), 0.03)
    }

    func testClickingAColumnHeaderSortsTheRowsAndClickingAgainReverses() throws {
        let (html, made) = try page(runs: 6)
        let ids = "Array.from(document.querySelectorAll('table.runs tbody tr')).map(r => r.dataset.id)"
        let lossHeader = "table.runs thead th:nth-child(\(try column(of: "train.loss", in: html))) button"
        let outcome = try browse(
            html, steps: [["eval": ids], ["click": lossHeader], ["eval": ids], ["click": lossHeader], ["eval": ids]])
        let byLoss = try made.store.list(RunQuery(sort: [try SortKey(parsing: "metrics.train.loss:asc")])).runs
            .map(\.run.id.rawValue)
        XCTAssertEqual(outcome.results[0].strings, made.ids.reversed().map(\.rawValue), "newest first before sorting")
        XCTAssertEqual(outcome.results[2].strings, byLoss, "ascending by train.loss")
        XCTAssertEqual(outcome.results[4].strings, byLoss.reversed(), "descending on the second click")
    }

    /// The 1-based position of a metric's column in the runs table.
    private func column(of key: String, in html: String) throws -> Int {
        let head = try XCTUnwrap(
            html.components(separatedBy: "<table class=\"sortable runs\">").last?
                .components(separatedBy: "</thead>").first)
        let titles = head.components(separatedBy: "<button type=\"button\">").dropFirst()
            .map { $0.components(separatedBy: "</button>")[0] }
        return try XCTUnwrap(titles.firstIndex(of: key)) + 1
    }

    func testAClickOnALegendItemHidesThatRunsLineInEveryChart() throws {
        let (html, _) = try page()
        let display =
            "Array.from(document.querySelectorAll('.line[data-run=\"1\"]')).map(l => getComputedStyle(l).display)"
        let others =
            "Array.from(document.querySelectorAll('.line:not([data-run=\"1\"])')).every(l => getComputedStyle(l).display !== 'none')"
        let button = "figure.chart ul.legend button[data-run=\"1\"]"
        let outcome = try browse(
            html,
            steps: [
                ["eval": display], ["click": button], ["eval": display], ["eval": others],
                ["eval": "document.querySelector('\(button)').getAttribute('aria-pressed')"],
                ["click": button], ["eval": display],
            ])
        let charts = html.components(separatedBy: "<figure class=\"chart\"").count - 1
        XCTAssertGreaterThanOrEqual(charts, 2)
        XCTAssertEqual(outcome.results[0].strings, Array(repeating: "inline", count: charts))
        XCTAssertEqual(outcome.results[2].strings, Array(repeating: "none", count: charts))
        XCTAssertEqual(outcome.results[3], .bool(true), "the other runs stay")
        XCTAssertEqual(outcome.results[4].string, "false")
        XCTAssertEqual(outcome.results[6].strings, Array(repeating: "inline", count: charts), "a second click shows it")
    }

    func testHoveringAPointShowsItsRunStepAndValue() throws {
        let (html, made) = try page()
        let line = "figure.chart svg[data-key=\"train.loss\"] .line[data-run=\"0\"]"
        let outcome = try browse(
            html,
            steps: [
                ["hoverPoint": line, "index": 3], ["wait": 100],
                [
                    "eval":
                        "document.querySelector('svg[data-key=\"train.loss\"]').closest('figure').querySelector('.tip').textContent"
                ],
            ])
        let newest = try made.store.list(RunQuery(sort: [.newestFirst], limit: 1)).runs[0]
        XCTAssertEqual(
            outcome.results[2].string,
            "run \(newest.shortID) · step 4 · train.loss \(RunText.number(ReportFixture.lossValue(run: 4, step: 4)))")
    }

    func testAFocusedChartReadsOutPointsWithTheArrowKeys() throws {
        let (html, made) = try page()
        let chart = "svg.plot[data-key=\"train.loss\"]"
        let tip = "document.querySelector('\(chart)').closest('figure').querySelector('.tip').textContent"
        let outcome = try browse(
            html,
            steps: [
                ["key": "ArrowRight", "focus": chart], ["key": "ArrowRight", "focus": chart], ["eval": tip],
                ["key": "ArrowDown", "focus": chart], ["eval": tip],
            ])
        let runs = try made.store.list(RunQuery(sort: [.newestFirst], limit: 2)).runs
        let value = { (run: Int, step: Int) in RunText.number(ReportFixture.lossValue(run: run, step: step)) }
        XCTAssertEqual(outcome.results[2].string, "run \(runs[0].shortID) · step 3 · train.loss \(value(4, 3))")
        XCTAssertEqual(outcome.results[4].string, "run \(runs[1].shortID) · step 3 · train.loss \(value(3, 3))")
    }

    func testWithJavaScriptOffTheTablesAndTheStaticCurvesAreThere() throws {
        let (html, made) = try page()
        let outcome = try browse(
            html, javascript: false, steps: [["html": true], ["eval": "document.documentElement.className"]])
        let dom = try XCTUnwrap(outcome.results[0].string)
        XCTAssertEqual(outcome.results[1].string, "", "no script ran")
        for id in made.ids { XCTAssertTrue(dom.contains("data-id=\"\(id.rawValue)\""), id.rawValue) }
        let charts = html.components(separatedBy: "<figure class=\"chart\"").count - 1
        XCTAssertEqual(dom.components(separatedBy: "<polyline").count - 1, charts * made.ids.count)
        XCTAssertTrue(dom.contains("<table class=\"diff\" data-section=\"params\">"))
        XCTAssertTrue(dom.contains("class=\"heat\""))
        XCTAssertTrue(dom.contains("class=\"graph\""))
    }

    func testPickingTwoRunsShowsTheRowsOfRunsDiff() throws {
        let (html, made) = try page()
        // Listing order is newest first: index 4 is the oldest run, 1 the fourth.
        let pick = """
            (() => { const a = document.getElementById('diff-a'), b = document.getElementById('diff-b');
              a.value = '4'; b.value = '1'; a.dispatchEvent(new Event('change')); b.dispatchEvent(new Event('change'));
              return Array.from(document.querySelectorAll('#diff-body tr[data-key]'))
                .map(r => Array.from(r.cells).map(c => c.textContent).join('|')); })()
            """
        let outcome = try browse(html, steps: [["eval": pick]])
        let diff = try made.store.diff(made.ids[0], made.ids[3])
        func show(_ text: String?, numeric: Bool) -> String {
            guard let text else { return "-" }
            return numeric ? Double(text).map(RunText.number) ?? text : text
        }
        let expected =
            diff.params.map {
                [$0.key, show($0.a, numeric: false), show($0.b, numeric: false), $0.delta.map(RunText.delta) ?? ""]
            }
            + diff.metrics.map {
                [$0.key, show($0.a, numeric: true), show($0.b, numeric: true), $0.delta.map(RunText.delta) ?? ""]
            }
        XCTAssertEqual(outcome.results[0].strings, expected.map { $0.joined(separator: "|") })
    }

    func testAnInjectedParamValueRunsNoScriptInTheBrowser() throws {
        let (html, _) = try page(note: {
            $0 == 2 ? "</script><img src=x onerror=\"document.title='pwned'\">" : "n\($0)"
        })
        let outcome = try browse(html, steps: [["eval": "document.title"], ["eval": "document.images.length"]])
        XCTAssertFalse(outcome.results[0].string?.contains("pwned") ?? true)
        XCTAssertEqual(outcome.results[1].number, 0)
        XCTAssertEqual(outcome.requests.count, 1, "no image was fetched: \(outcome.requests)")
    }

    func testTheLargePageStaysResponsive() throws {
        let made = try ReportFixture.large.get()
        let html = ReportPage(content: try ReportFixture.content(made, limit: 200)).html()
        let sortTime = """
            (() => { const t = performance.now();
              document.querySelector('table.runs thead th:nth-child(3) button').click();
              return performance.now() - t; })()
            """
        let hideTime = """
            (() => { const t = performance.now();
              document.querySelector('ul.legend button[data-run="7"]').click();
              void document.body.offsetHeight; return performance.now() - t; })()
            """
        let outcome = try browse(
            html,
            steps: [
                ["eval": "performance.getEntriesByType('navigation')[0].loadEventEnd"],
                ["eval": sortTime], ["eval": hideTime],
                ["eval": "document.querySelectorAll('table.runs tbody tr').length"],
            ])
        XCTAssertEqual(outcome.exceptions, [])
        XCTAssertEqual(outcome.results[3].number, 200)
        // Generous bounds: these machines are shared; an unresponsive page takes tens of seconds, not a few.
        XCTAssertLessThan(try XCTUnwrap(outcome.results[0].number), 10_000, "load event, ms")
        XCTAssertLessThan(try XCTUnwrap(outcome.results[1].number), 2_000, "sorting 200 rows, ms")
        XCTAssertLessThan(try XCTUnwrap(outcome.results[2].number), 2_000, "hiding a run in 20 charts, ms")
    }
}
