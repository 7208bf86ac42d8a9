import Foundation
import JSONText

/// One point of a line-chart series.
public struct PlotPoint: Equatable, Sendable {
    public var x: Double
    public var y: Double
}

/// A named line of a chart (`train`, `validation`).
public struct PlotSeries: Equatable, Sendable {
    public var name: String
    public var points: [PlotPoint]
}

extension PlotSeries {
    /// One value per epoch: `values[i]` is plotted at epoch `firstEpoch + i`.
    public init(name: String, perEpoch values: [Double], firstEpoch: Int = 1) {
        self.init(
            name: name,
            points: values.enumerated().map { PlotPoint(x: Double(firstEpoch + $0.offset), y: $0.element) })
    }
}

/// Errors in the data given to a plot.
public enum SVGPlotError: Error, Equatable, CustomStringConvertible {
    /// A heat map whose counts are not a square matrix with one row per label, or hold a negative count.
    case badConfusionMatrix(String)

    public var description: String {
        switch self {
        case .badConfusionMatrix(let reason): return "confusion heat map: \(reason)"
        }
    }
}

/// A line chart as a standalone SVG 1.1 document: title, axis labels, ticks at round numbers, grid lines,
/// one coloured line per series with a legend (`plots/loss.svg`, `plots/accuracy.svg`).
///
/// Points whose x or y is NaN or infinite are not drawn; the line breaks there instead of bridging the gap.
/// An empty chart (no finite point at all) still draws its axes, legend and a "no data" note. A single point,
/// or values all equal, get an axis range padded around them.
public struct LineChart: Equatable, Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [PlotSeries]
    /// Size in SVG user units (pixels when opened on its own).
    public var width: Int
    public var height: Int

    public init(
        title: String, xLabel: String = "epoch", yLabel: String, series: [PlotSeries], width: Int = 640,
        height: Int = 400
    ) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.width = width
        self.height = height
    }

    /// Line colours, in series order (the Tableau 10 palette; repeats after ten series).
    static let palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ]

    /// The chart as an SVG document, ending with a newline.
    public func svg() -> String {
        let width = Double(max(width, 200))
        let height = Double(max(height, 150))
        let left = 72.0
        let right = 20.0
        let top = 40.0
        let bottom = 52.0
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom

        let finitePoints = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        let xs = finitePoints.map(\.x)
        let ys = finitePoints.map(\.y)
        let integerX = xs.allSatisfy { $0 == $0.rounded() }
        // x spans the data exactly (epoch 1 to the last, not 0); y is rounded out to ticks.
        let xScale = AxisScale(values: xs, integerSteps: integerX, tight: true)
        let yScale = AxisScale(values: ys, integerSteps: false)
        // A 3 % inset each side keeps the first and last markers off the frame.
        func px(_ x: Double) -> Double { left + (0.03 + 0.94 * xScale.fraction(x)) * plotWidth }
        func py(_ y: Double) -> Double { top + plotHeight - yScale.fraction(y) * plotHeight }

        var svg = SVGDocument(width: width, height: height, title: title)
        svg.rectangle(x: 0, y: 0, width: width, height: height, fill: "#ffffff")
        svg.text(title, x: width / 2, y: 24, anchor: "middle", attributes: "font-size=\"15\" font-weight=\"bold\"")

        // Grid, ticks and tick labels.
        svg.open("g", attributes: "stroke=\"#e0e0e0\" stroke-width=\"1\"")
        for tick in xScale.ticks { svg.line(x1: px(tick), y1: top, x2: px(tick), y2: top + plotHeight) }
        for tick in yScale.ticks { svg.line(x1: left, y1: py(tick), x2: left + plotWidth, y2: py(tick)) }
        svg.close("g")
        svg.open("g", attributes: "stroke=\"#000000\" stroke-width=\"1\"")
        for tick in xScale.ticks {
            svg.line(x1: px(tick), y1: top + plotHeight, x2: px(tick), y2: top + plotHeight + 5)
        }
        for tick in yScale.ticks { svg.line(x1: left - 5, y1: py(tick), x2: left, y2: py(tick)) }
        svg.close("g")
        for tick in xScale.ticks {
            svg.text(xScale.label(tick), x: px(tick), y: top + plotHeight + 18, anchor: "middle")
        }
        for tick in yScale.ticks {
            svg.text(yScale.label(tick), x: left - 8, y: py(tick) + 4, anchor: "end")
        }
        svg.rectangle(x: left, y: top, width: plotWidth, height: plotHeight, fill: "none", stroke: "#000000")
        svg.text(xLabel, x: left + plotWidth / 2, y: height - 12, anchor: "middle")
        let yLabelX = 18.0
        let yLabelY = top + plotHeight / 2
        svg.text(
            yLabel, x: yLabelX, y: yLabelY, anchor: "middle",
            attributes: "transform=\"rotate(-90 \(SVGDocument.number(yLabelX)) \(SVGDocument.number(yLabelY)))\"")

        // Series: a polyline per run of finite points, and a marker on each point.
        for (index, one) in series.enumerated() {
            let colour = Self.palette[index % Self.palette.count]
            svg.open("g", attributes: "class=\"series\"")
            svg.element("title", content: one.name)
            var run: [PlotPoint] = []
            var runs: [[PlotPoint]] = []
            for point in one.points {
                if point.x.isFinite && point.y.isFinite {
                    run.append(point)
                } else if !run.isEmpty {
                    runs.append(run)
                    run = []
                }
            }
            if !run.isEmpty { runs.append(run) }
            for run in runs where run.count > 1 {
                svg.polyline(run.map { (px($0.x), py($0.y)) }, stroke: colour)
            }
            if finitePoints.count <= 200 {
                for point in runs.joined() { svg.circle(x: px(point.x), y: py(point.y), radius: 2.5, fill: colour) }
            }
            svg.close("g")
        }
        if finitePoints.isEmpty {
            svg.text(
                "no data", x: left + plotWidth / 2, y: top + plotHeight / 2, anchor: "middle",
                attributes: "fill=\"#808080\"")
        }

        // Legend, top right inside the plot area.
        if !series.isEmpty {
            let longest = series.map(\.name.count).max() ?? 0
            let legendWidth = 40 + 7 * Double(longest)
            let legendHeight = 8 + 18 * Double(series.count)
            let legendX = left + plotWidth - legendWidth - 8
            let legendY = top + 8
            svg.open("g", attributes: "class=\"legend\"")
            svg.rectangle(
                x: legendX, y: legendY, width: legendWidth, height: legendHeight, fill: "#ffffff", stroke: "#a0a0a0",
                extra: "fill-opacity=\"0.85\"")
            for (index, one) in series.enumerated() {
                let colour = Self.palette[index % Self.palette.count]
                let rowY = legendY + 13 + 18 * Double(index)
                svg.line(x1: legendX + 6, y1: rowY, x2: legendX + 26, y2: rowY, stroke: colour, strokeWidth: 2)
                svg.text(one.name, x: legendX + 32, y: rowY + 4, anchor: "start")
            }
            svg.close("g")
        }
        return svg.finish()
    }
}

/// A confusion matrix as a heat map in a standalone SVG 1.1 document (`plots/confusion.svg`): true classes
/// down the side, predicted classes across the top; each cell shows its count and the percentage of its row
/// (the share of that true class), and is shaded by that percentage. A row with no beats shows `-`.
public struct ConfusionHeatMap: Equatable, Sendable {
    public var title: String
    public var labels: [String]
    /// `counts[truth][predicted]`, one row and one column per label.
    public var counts: [[Int]]

    /// The heat map of a report's confusion matrix, labelled N S V F Q.
    public init(title: String, report: ClassificationReport) {
        self.title = title
        labels = ClassificationReport.classes.map(\.rawValue)
        counts = report.confusion
    }

    /// Any square matrix of non-negative counts with one label per row; throws otherwise.
    public init(title: String, labels: [String], counts: [[Int]]) throws {
        guard counts.count == labels.count, counts.allSatisfy({ $0.count == labels.count }) else {
            throw SVGPlotError.badConfusionMatrix(
                "expected \(labels.count) rows of \(labels.count) counts (one per label), got \(counts.count) rows")
        }
        guard counts.allSatisfy({ $0.allSatisfy { $0 >= 0 } }) else {
            throw SVGPlotError.badConfusionMatrix("negative count")
        }
        self.title = title
        self.labels = labels
        self.counts = counts
    }

    /// The heat map as an SVG document, ending with a newline.
    public func svg() -> String {
        let cell = 76.0
        let left = 86.0
        let top = 84.0
        let size = Double(labels.count) * cell
        let width = max(left + size + 24, 260)
        let height = top + size + 24

        var svg = SVGDocument(width: width, height: height, title: title)
        svg.rectangle(x: 0, y: 0, width: width, height: height, fill: "#ffffff")
        svg.text(title, x: width / 2, y: 24, anchor: "middle", attributes: "font-size=\"15\" font-weight=\"bold\"")
        svg.text("predicted", x: left + size / 2, y: 50, anchor: "middle", attributes: "font-weight=\"bold\"")
        let truthX = 20.0
        let truthY = top + size / 2
        svg.text(
            "truth", x: truthX, y: truthY, anchor: "middle",
            attributes:
                "font-weight=\"bold\" transform=\"rotate(-90 \(SVGDocument.number(truthX)) \(SVGDocument.number(truthY)))\""
        )
        for (index, label) in labels.enumerated() {
            svg.text(label, x: left + (Double(index) + 0.5) * cell, y: top - 10, anchor: "middle")
            svg.text(label, x: left - 10, y: top + (Double(index) + 0.5) * cell + 4, anchor: "end")
        }
        for (row, rowCounts) in counts.enumerated() {
            let rowTotal = rowCounts.reduce(0, +)
            for (column, count) in rowCounts.enumerated() {
                let share = rowTotal == 0 ? 0 : Double(count) / Double(rowTotal)
                let x = left + Double(column) * cell
                let y = top + Double(row) * cell
                svg.rectangle(x: x, y: y, width: cell, height: cell, fill: Self.shade(share), stroke: "#ffffff")
                let ink = share > 0.5 ? "#ffffff" : "#000000"
                svg.text(
                    String(count), x: x + cell / 2, y: y + cell / 2 - 2, anchor: "middle",
                    attributes: "fill=\"\(ink)\" font-weight=\"bold\"")
                let percent = rowTotal == 0 ? "-" : String(format: "%.1f%%", share * 100)
                svg.text(
                    percent, x: x + cell / 2, y: y + cell / 2 + 14, anchor: "middle",
                    attributes: "fill=\"\(ink)\" font-size=\"11\"")
            }
        }
        return svg.finish()
    }

    /// White at 0 to dark blue at 1.
    static func shade(_ share: Double) -> String {
        let amount = share.isFinite ? min(max(share, 0), 1) : 0
        let light = (255.0, 255.0, 255.0)
        let dark = (8.0, 48.0, 107.0)
        func channel(_ from: Double, _ to: Double) -> Int { Int((from + (to - from) * amount).rounded()) }
        return String(
            format: "#%02x%02x%02x", channel(light.0, dark.0), channel(light.1, dark.1), channel(light.2, dark.2))
    }
}

/// An axis range rounded out to ticks at 1, 2 or 5 times a power of ten (Heckbert's "nice numbers").
struct AxisScale: Equatable {
    var lower: Double
    var upper: Double
    var step: Double
    var ticks: [Double]

    /// The scale covering `values` (finite values only); 0...1 when there are none. A single value, or values
    /// all equal, are padded by 1 (integer steps or a value of 0) or by a tenth of the value each side. The ends
    /// are rounded out to ticks, or, when `tight`, are the smallest and largest value with the ticks between.
    init(values: [Double], integerSteps: Bool, tight: Bool = false, targetTicks: Int = 6) {
        var low = values.min() ?? 0
        var high = values.max() ?? 1
        if low == high {
            let pad = integerSteps || low == 0 ? 1 : abs(low) / 10
            low -= pad
            high += pad
        }
        var step = Self.nice((high - low) / Double(max(targetTicks - 1, 1)), round: true)
        if integerSteps { step = max(step.rounded(), 1) }
        let lower = (low / step).rounded(.down) * step
        let upper = (high / step).rounded(.up) * step
        let intervals = ((upper - lower) / step).rounded()
        guard step > 0, step.isFinite, lower.isFinite, upper.isFinite, upper > lower, intervals <= 100 else {
            // Ranges too wide or too narrow for the doubles to space ticks: label the two ends.
            self.lower = low
            self.upper = high > low ? high : low + 1
            self.step = self.upper - self.lower
            ticks = [self.lower, self.upper]
            return
        }
        self.step = step
        let allTicks = (0...Int(intervals)).map { lower + Double($0) * step }
        if tight {
            let slack = step * 1e-9
            self.lower = low
            self.upper = high
            ticks = allTicks.filter { $0 >= low - slack && $0 <= high + slack }
        } else {
            self.lower = lower
            self.upper = upper
            ticks = allTicks
        }
    }

    /// The nice number near `value`: rounded to the nearest of 1, 2, 5, 10 (`round`) or up to the next one.
    static func nice(_ value: Double, round: Bool) -> Double {
        guard value > 0, value.isFinite else { return 1 }
        let exponent = log10(value).rounded(.down)
        let power = pow(10, exponent)
        let fraction = value / power
        let niceFraction: Double
        if round {
            niceFraction = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10
        } else {
            niceFraction = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        }
        return niceFraction * power
    }

    /// Where `value` falls between the ends, 0 at `lower` and 1 at `upper`; 0.5 if that cannot be computed.
    func fraction(_ value: Double) -> Double {
        let fraction = (value - lower) / (upper - lower)
        return fraction.isFinite ? fraction : 0.5
    }

    /// A tick label with as many decimals as the step needs (`0.25`, `10`), or in exponent form for very large
    /// or very small numbers.
    func label(_ value: Double) -> String {
        let tick = abs(value) < abs(step) * 1e-9 ? 0 : value  // no "-0" from rounding
        let magnitude = max(abs(lower), abs(upper))
        if magnitude >= 1e6 || (step < 1e-4 && magnitude < 1e-2) {
            return String(format: "%.3g", tick)
        }
        let decimals = step >= 1 ? 0 : min(12, Int((-log10(step)).rounded(.up)))
        return String(format: "%.\(decimals)f", tick)
    }
}

/// An SVG document written element by element; every text and attribute value goes through `escaped`, and
/// every number through `number`, so the output is always well-formed and never holds `nan`.
private struct SVGDocument {
    private var body: String

    init(width: Double, height: Double, title: String) {
        let width = Self.number(width)
        let height = Self.number(height)
        body = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="\(width)" height="\(height)" \
            viewBox="0 0 \(width) \(height)" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">
            <title>\(Self.escaped(title))</title>

            """
    }

    /// Coordinates to two decimals without trailing zeros; 0 for a value that is not finite.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        var text = String(format: "%.2f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    /// Text safe in element content and in double-quoted attribute values. Control characters, which XML 1.0
    /// does not allow, become spaces.
    static func escaped(_ value: String) -> String {
        TextEscaping.replacing(value) { scalar in
            if scalar.value < 0x20 || (0xFFFE...0xFFFF).contains(scalar.value) { return " " }
            return TextEscaping.xmlEntity(scalar)
        }
    }

    mutating func open(_ name: String, attributes: String) { body += "<\(name) \(attributes)>\n" }

    mutating func close(_ name: String) { body += "</\(name)>\n" }

    mutating func rectangle(
        x: Double, y: Double, width: Double, height: Double, fill: String, stroke: String? = nil, extra: String = ""
    ) {
        body += "<rect x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" width=\"\(Self.number(width))\" "
        body += "height=\"\(Self.number(height))\" fill=\"\(fill)\""
        if let stroke { body += " stroke=\"\(stroke)\"" }
        if !extra.isEmpty { body += " " + extra }
        body += "/>\n"
    }

    mutating func line(
        x1: Double, y1: Double, x2: Double, y2: Double, stroke: String? = nil, strokeWidth: Double? = nil
    ) {
        body += "<line x1=\"\(Self.number(x1))\" y1=\"\(Self.number(y1))\" "
        body += "x2=\"\(Self.number(x2))\" y2=\"\(Self.number(y2))\""
        if let stroke { body += " stroke=\"\(stroke)\"" }
        if let strokeWidth { body += " stroke-width=\"\(Self.number(strokeWidth))\"" }
        body += "/>\n"
    }

    mutating func polyline(_ points: [(Double, Double)], stroke: String) {
        let coordinates = points.map { "\(Self.number($0.0)),\(Self.number($0.1))" }.joined(separator: " ")
        body += "<polyline points=\"\(coordinates)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"2\" "
        body += "stroke-linejoin=\"round\"/>\n"
    }

    mutating func circle(x: Double, y: Double, radius: Double, fill: String) {
        body += "<circle cx=\"\(Self.number(x))\" cy=\"\(Self.number(y))\" r=\"\(Self.number(radius))\" "
        body += "fill=\"\(fill)\"/>\n"
    }

    /// A text element; `attributes` are written as given (callers escape any text they put there).
    mutating func text(_ content: String, x: Double, y: Double, anchor: String, attributes: String = "") {
        body += "<text x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" text-anchor=\"\(anchor)\""
        if !attributes.isEmpty { body += " " + attributes }
        body += ">\(Self.escaped(content))</text>\n"
    }

    mutating func element(_ name: String, content: String) { body += "<\(name)>\(Self.escaped(content))</\(name)>\n" }

    func finish() -> String { body + "</svg>\n" }
}
