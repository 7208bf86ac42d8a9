import ECGSignal
import Foundation
import XCTest

@testable import ECGStages

#if canImport(FoundationXML)
import FoundationXML
#endif

/// What an XML parser saw in an SVG document: every element (name, namespace, attributes) and text run.
private final class ParsedSVG: NSObject, XMLParserDelegate {
    struct Element {
        var name: String
        var namespace: String?
        var attributes: [String: String]
    }

    private(set) var elements: [Element] = []
    private(set) var texts: [String] = []
    private var currentText = ""

    /// Parses `svg`; fails the test (and returns nil) when it is not well-formed XML.
    static func parse(_ svg: String, file: StaticString = #filePath, line: UInt = #line) -> ParsedSVG? {
        let parser = XMLParser(data: Data(svg.utf8))
        parser.shouldProcessNamespaces = true
        let result = ParsedSVG()
        parser.delegate = result
        guard parser.parse() else {
            XCTFail("not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "?")\n\(svg)", file: file, line: line)
            return nil
        }
        return result
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        elements.append(Element(name: elementName, namespace: namespaceURI, attributes: attributes))
        currentText = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { currentText += string }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        let text = currentText.trimmingCharacters(in: .whitespacesAndNewlines)
        if !text.isEmpty { texts.append(text) }
        currentText = ""
    }

    func count(_ name: String) -> Int { elements.filter { $0.name == name }.count }
}

final class SVGPlotsTests: XCTestCase {
    private func lossChart(train: [Double], validation: [Double]) -> LineChart {
        LineChart(
            title: "Loss", yLabel: "cross-entropy",
            series: [PlotSeries(name: "train", perEpoch: train), PlotSeries(name: "validation", perEpoch: validation)])
    }

    /// Checks what every chart must be: well-formed standalone SVG with no non-finite number anywhere.
    private func assertStandaloneSVG(_ svg: String, file: StaticString = #filePath, line: UInt = #line) -> ParsedSVG? {
        XCTAssertTrue(svg.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg "), file: file, line: line)
        XCTAssertFalse(svg.lowercased().contains("nan"), "NaN in the output", file: file, line: line)
        XCTAssertFalse(svg.lowercased().contains("inf"), "infinity in the output", file: file, line: line)
        guard let parsed = ParsedSVG.parse(svg, file: file, line: line) else { return nil }
        let root = parsed.elements.first
        XCTAssertEqual(root?.name, "svg", file: file, line: line)
        XCTAssertEqual(root?.namespace, "http://www.w3.org/2000/svg", file: file, line: line)
        XCTAssertEqual(root?.attributes["version"], "1.1", file: file, line: line)
        XCTAssertNotNil(root?.attributes["viewBox"], file: file, line: line)
        return parsed
    }

    func testLineChartIsWellFormedSVGWithTitleLabelsSeriesAndLegend() throws {
        let svg = lossChart(train: [1.2, 0.8, 0.5, 0.4, 0.35], validation: [1.3, 0.9, 0.7, 0.65, 0.66]).svg()
        let parsed = try XCTUnwrap(assertStandaloneSVG(svg))
        for text in ["Loss", "epoch", "cross-entropy", "train", "validation"] {
            XCTAssertTrue(parsed.texts.contains(text), "missing text '\(text)' in \(parsed.texts)")
        }
        XCTAssertEqual(parsed.count("polyline"), 2, "one line per series")
        XCTAssertEqual(parsed.count("circle"), 10, "one marker per point")
        let lines = parsed.elements.filter { $0.name == "polyline" }.compactMap { $0.attributes["points"] }
        XCTAssertEqual(lines.first?.split(separator: " ").count, 5)
        // The x axis of an epoch chart is labelled with whole epochs.
        XCTAssertTrue(parsed.texts.contains("1") && parsed.texts.contains("5"), "\(parsed.texts)")
        XCTAssertFalse(parsed.texts.contains("0"), "no epoch 0 when training starts at 1: \(parsed.texts)")
        XCTAssertFalse(parsed.texts.contains("1.5"), "\(parsed.texts)")
    }

    func testNonFiniteValuesAreSkippedAndBreakTheLine() throws {
        let svg = lossChart(train: [1, .nan, 0.5, 0.4, .infinity, 0.3, 0.2], validation: [-.infinity, 2, 1]).svg()
        let parsed = try XCTUnwrap(assertStandaloneSVG(svg))
        // train: runs [1], [0.5, 0.4], [0.3, 0.2] → two lines (a lone point is only a marker); validation: one.
        XCTAssertEqual(parsed.count("polyline"), 3)
        XCTAssertEqual(parsed.count("circle"), 7)
    }

    func testASingleEpochStillDrawsAxesAndItsPoints() throws {
        let svg = lossChart(train: [0.7], validation: [0.9]).svg()
        let parsed = try XCTUnwrap(assertStandaloneSVG(svg))
        XCTAssertEqual(parsed.count("polyline"), 0)
        XCTAssertEqual(parsed.count("circle"), 2)
        XCTAssertTrue(parsed.texts.contains("1"), "the one epoch has a tick: \(parsed.texts)")
    }

    func testAllEqualValuesGetAPaddedRange() throws {
        let svg = lossChart(train: [0.5, 0.5, 0.5], validation: [0.5, 0.5, 0.5]).svg()
        let parsed = try XCTUnwrap(assertStandaloneSVG(svg))
        XCTAssertEqual(parsed.count("polyline"), 2)
        let scale = AxisScale(values: [0.5, 0.5], integerSteps: false)
        XCTAssertLessThan(scale.lower, 0.5)
        XCTAssertGreaterThan(scale.upper, 0.5)
        XCTAssertGreaterThan(scale.ticks.count, 1)
    }

    func testEmptySeriesAndNoSeriesDrawAnEmptyChart() throws {
        let empty = try XCTUnwrap(assertStandaloneSVG(lossChart(train: [], validation: [.nan]).svg()))
        XCTAssertTrue(empty.texts.contains("no data"))
        XCTAssertTrue(empty.texts.contains("train") && empty.texts.contains("validation"), "legend still lists both")
        let none = try XCTUnwrap(
            assertStandaloneSVG(LineChart(title: "Accuracy", yLabel: "accuracy", series: []).svg()))
        XCTAssertEqual(none.count("polyline"), 0)
        XCTAssertTrue(none.texts.contains("no data"))
    }

    func testTextIsEscaped() throws {
        let chart = LineChart(
            title: "Loss <train> & \"val\"", xLabel: "epoch's", yLabel: "a<b",
            series: [PlotSeries(name: "x & y", perEpoch: [1, 2])])
        let parsed = try XCTUnwrap(assertStandaloneSVG(chart.svg()))
        for text in ["Loss <train> & \"val\"", "epoch's", "a<b", "x & y"] {
            XCTAssertTrue(parsed.texts.contains(text), "missing '\(text)' in \(parsed.texts)")
        }
    }

    func testTicksFallOnNiceNumbers() {
        let scale = AxisScale(values: [0.03, 0.97], integerSteps: false)
        XCTAssertEqual(scale.step, 0.2)
        XCTAssertEqual(scale.ticks.map(scale.label), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let epochs = AxisScale(values: [1, 10], integerSteps: true)
        XCTAssertEqual(epochs.ticks.map(epochs.label), ["0", "2", "4", "6", "8", "10"])
        let tight = AxisScale(values: [1, 10], integerSteps: true, tight: true)
        XCTAssertEqual([tight.lower, tight.upper], [1, 10], "an epoch axis starts at the first epoch")
        XCTAssertEqual(tight.ticks, [2, 4, 6, 8, 10])
        let few = AxisScale(values: [1, 3], integerSteps: true)
        XCTAssertEqual(few.ticks.map(few.label), ["1", "2", "3"], "never a fractional epoch")
        let large = AxisScale(values: [0, 2.5e7], integerSteps: false)
        XCTAssertEqual(large.ticks.first.map(large.label), "0")
        XCTAssertEqual(large.ticks.last.map(large.label), "2.5e+07")
    }

    func testConfusionHeatMapShowsCountsRowPercentagesAndLabels() throws {
        let report = try ClassificationReport(
            confusion: [[90, 5, 5, 0, 0], [1, 3, 0, 0, 0], [0, 0, 8, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 0]])
        let svg = ConfusionHeatMap(title: "Confusion (test)", report: report).svg()
        let parsed = try XCTUnwrap(assertStandaloneSVG(svg))
        XCTAssertEqual(parsed.count("rect"), 1 + 25, "background and one cell per pair")
        for text in ["Confusion (test)", "predicted", "truth", "N", "S", "V", "F", "Q"] {
            XCTAssertTrue(parsed.texts.contains(text), "missing '\(text)'")
        }
        for text in ["90", "90.0%", "5.0%", "75.0%", "25.0%", "100.0%", "50.0%"] {
            XCTAssertTrue(parsed.texts.contains(text), "missing '\(text)' in \(parsed.texts)")
        }
        // Q has no beats: its row shows counts of 0 and no percentage.
        XCTAssertEqual(parsed.texts.filter { $0 == "-" }.count, 5)
    }

    func testConfusionHeatMapRejectsANonSquareMatrix() {
        XCTAssertThrowsError(try ConfusionHeatMap(title: "x", labels: ["a", "b"], counts: [[1, 2]]))
        XCTAssertThrowsError(try ConfusionHeatMap(title: "x", labels: ["a"], counts: [[-1]]))
        XCTAssertNoThrow(try ConfusionHeatMap(title: "x", labels: ["a"], counts: [[1]]))
    }

    func testCSVOfChartSeriesHasOneRowPerEpoch() {
        let table = CSVTable(
            xName: "epoch",
            series: [
                PlotSeries(name: "train_loss", perEpoch: [0.5, 0.25, 0.125]),
                PlotSeries(name: "val_loss", perEpoch: [0.75, .nan]),
            ])
        XCTAssertEqual(table.text(), "epoch,train_loss,val_loss\n1,0.5,0.75\n2,0.25,nan\n3,0.125,\n")
    }

    func testCSVNumbersRoundTripAndCellsAreQuoted() {
        XCTAssertEqual(CSVTable.cell(0.1 + 0.2), "0.30000000000000004")
        XCTAssertEqual(Double(CSVTable.cell(1.0 / 3.0)), 1.0 / 3.0)
        XCTAssertEqual(CSVTable.cell(3), "3")
        XCTAssertEqual(CSVTable.cell(-.infinity), "-inf")
        let table = CSVTable(header: ["name", "note"], rows: [["a,b", "say \"hi\""]])
        XCTAssertEqual(table.text(), "name,note\n\"a,b\",\"say \"\"hi\"\"\"\n")
    }

    func testConfusionCSVHasAHeaderRowAndOneRowPerTrueClass() throws {
        let report = try ClassificationReport(truth: [0, 0, 1, 2, 4], predicted: [0, 1, 1, 2, 0])
        XCTAssertEqual(
            CSVTable(confusion: report).text(),
            """
            truth,N,S,V,F,Q
            N,1,1,0,0,0
            S,0,1,0,0,0
            V,0,0,1,0,0
            F,0,0,0,0,0
            Q,1,0,0,0,0

            """)
    }
}
