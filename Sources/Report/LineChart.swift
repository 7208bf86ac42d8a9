import Foundation
import Tracking

/// One run's line in a learning-curve chart: the points to draw (already decimated) and how many it had.
struct ChartLine {
    /// The run's position in the listing: its colour, dash and `data-run`.
    var runIndex: Int
    var label: String
    var steps: [Int64]
    var values: [Double]
    var loggedPoints: Int
}

/// A static SVG line chart (one metric, one polyline per run) with axes, ticks and a text alternative. The page's
/// script adds hover and hiding on top; without it the SVG is the whole chart.
struct LineChart {
    static let width = 640.0
    static let height = 280.0
    static let left = 64.0
    static let right = 12.0
    static let top = 12.0
    static let bottom = 40.0

    var key: String
    var id: String
    var lines: [ChartLine]
    var maxPointsPerLine: Int

    var decimated: Bool { lines.contains { $0.steps.count < $0.loggedPoints } }

    func svg() -> String {
        let steps = lines.flatMap(\.steps)
        let values = lines.flatMap(\.values)
        guard let minStep = steps.min(), let maxStep = steps.max(), let low = values.min(), let high = values.max()
        else { return "" }
        let xTicks = Ticks.nice(Double(minStep), Double(maxStep), count: 6, integral: true)
        let yTicks = Ticks.nice(low, high, count: 5, integral: false)
        let x0 = min(Double(minStep), xTicks.first ?? Double(minStep))
        let x1 = max(Double(maxStep), xTicks.last ?? Double(maxStep))
        let y0 = min(low, yTicks.first ?? low)
        let y1 = max(high, yTicks.last ?? high)
        let plotWidth = Self.width - Self.left - Self.right
        let plotHeight = Self.height - Self.top - Self.bottom
        func x(_ step: Double) -> Double { Self.left + (x1 > x0 ? (step - x0) / (x1 - x0) : 0.5) * plotWidth }
        func y(_ value: Double) -> Double {
            Self.top + plotHeight - (y1 > y0 ? (value - y0) / (y1 - y0) : 0.5) * plotHeight
        }
        let direction = MetricDirection(key: key)
        let finals = lines.compactMap { line in line.values.last.map { (line.label, $0) } }
        let best = direction.best(finals.map(\.1))
        let bestRun = finals.first { $0.1 == best }?.0 ?? ""
        var out = HTMLBuffer(capacity: 256 + lines.count * maxPointsPerLine * 24)
        out.append(
            "<svg class=\"plot\" viewBox=\"0 0 \(Int(Self.width)) \(Int(Self.height))\" role=\"img\" tabindex=\"0\" "
                + "aria-labelledby=\"\(id)-t \(id)-d\" data-key=\"")
        out.text(key)
        out.append("\"><title id=\"\(id)-t\">")
        out.text("\(key): learning curves")
        out.append("</title><desc id=\"\(id)-d\">")
        out.text(
            "\(lines.count) run\(lines.count == 1 ? "" : "s"), steps \(minStep) to \(maxStep), values "
                + "\(RunText.number(low)) to \(RunText.number(high)); \(direction.word) final value "
                + "\(best.map(RunText.number) ?? "-") (run \(bestRun)).")
        out.append("</desc><g class=\"grid\">")
        for tick in yTicks {
            let position = HTMLText.pixel(y(tick))
            out.append(
                "<line x1=\"\(Int(Self.left))\" x2=\"\(Int(Self.width - Self.right))\" y1=\"\(position)\" "
                    + "y2=\"\(position)\"/><text class=\"ty\" x=\"\(Int(Self.left) - 6)\" y=\"\(position)\">"
                    + RunText.number(tick) + "</text>")
        }
        for tick in xTicks {
            let position = HTMLText.pixel(x(tick))
            out.append(
                "<line x1=\"\(position)\" x2=\"\(position)\" y1=\"\(Int(Self.top))\" "
                    + "y2=\"\(Int(Self.top + plotHeight))\"/><text class=\"tx\" x=\"\(position)\" "
                    + "y=\"\(Int(Self.top + plotHeight) + 16)\">" + RunText.number(tick) + "</text>")
        }
        out.append(
            "</g><text class=\"axis\" x=\"\(Int(Self.left + plotWidth / 2))\" y=\"\(Int(Self.height) - 4)\">step</text>"
                + "<g class=\"lines\">")
        for line in lines {
            out.append(
                "<polyline class=\"line c\(line.runIndex % ReportStyle.runClasses)\" data-run=\"\(line.runIndex)\" points=\""
            )
            for (step, value) in zip(line.steps, line.values) {
                out.append(HTMLText.pixel(x(Double(step))) + "," + HTMLText.pixel(y(value)) + " ")
            }
            out.append("\" data-s=\"" + line.steps.map(String.init).joined(separator: " ") + "\" data-v=\"")
            // Single precision is plenty for a read-out, and its shortest text is much cheaper than printf's.
            out.append(line.values.map { Float($0).description }.joined(separator: " ") + "\"/>")
        }
        out.append("</g><circle class=\"cursor\" r=\"4\" cx=\"-10\" cy=\"-10\"/></svg>")
        return out.markup
    }
}

/// Round tick values ("nice numbers") covering a range.
enum Ticks {
    static func nice(_ low: Double, _ high: Double, count: Int, integral: Bool) -> [Double] {
        guard low.isFinite, high.isFinite else { return [] }
        if high <= low {
            return [low]
        }
        let raw = (high - low) / Double(max(1, count))
        let magnitude = pow(10, floor(log10(raw)))
        let fraction = raw / magnitude
        var step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude
        if integral { step = max(1, step.rounded()) }
        let first = floor(low / step) * step
        var ticks: [Double] = []
        var value = first
        while ticks.count < 20 {
            ticks.append(abs(value) < step * 1e-9 ? 0 : value)
            if value >= high - step * 1e-9 { break }
            value += step
        }
        return ticks
    }
}
