import Foundation
import Tracking

/// One run's evaluation: the confusion matrix as a heat map with counts, and per-class bars (Se, +P, F1).
struct EvaluationPanel {
    var evaluation: EvaluationMetrics
    var run: RunSummary
    var id: String

    /// Display names of the per-class fields drawn as bars, in drawing order; other fields are in the table only.
    static let barFields: [(field: String, label: String, colour: String)] = [
        ("se", "Se", "#0072B2"), ("ppv", "+P", "#E69F00"), ("f1", "F1", "#009E73"),
    ]

    func html() -> String {
        var out = HTMLBuffer()
        let title = evaluation.prefix.isEmpty ? "evaluation" : evaluation.prefix
        out.append("<figure class=\"evaluation\" data-run-id=\"")
        out.text(run.run.id.rawValue)
        out.append("\"><figcaption><h3>")
        out.text("\(run.shortID) · \(title)")
        out.append("</h3></figcaption>")
        if !evaluation.matrix.isEmpty { out.append(heatMap()) }
        let fields = Self.barFields.filter { field in evaluation.perClass.values.contains { $0[field.field] != nil } }
        if !fields.isEmpty, !evaluation.classes.isEmpty { out.append(bars(fields)) }
        if !evaluation.perClass.isEmpty { out.append(perClassTable()) }
        out.append("</figure>")
        return out.markup
    }

    private func label(_ index: Int) -> String {
        evaluation.classesLabelMatrix && index < evaluation.classes.count ? evaluation.classes[index] : String(index)
    }

    private func heatMap() -> String {
        let matrix = evaluation.matrix
        let size = matrix.count
        let cell = 44.0
        let left = 40.0
        let top = 34.0
        let width = left + cell * Double(size) + 8
        let height = top + cell * Double(size) + 8
        let total = matrix.flatMap { $0 }.reduce(0, +)
        let correct = (0..<size).reduce(0.0) { $0 + matrix[$1][$1] }
        var out = HTMLBuffer()
        out.append(
            "<svg class=\"heat\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" role=\"img\" "
                + "aria-labelledby=\"\(id)-ht\"><title id=\"\(id)-ht\">")
        out.text(
            "Confusion matrix of run \(run.shortID): rows are the true class, columns the predicted class; "
                + "\(RunText.number(correct)) of \(RunText.number(total)) on the diagonal.")
        out.append("</title>")
        out.append(
            "<text x=\"\(Int(left + cell * Double(size) / 2))\" y=\"11\" text-anchor=\"middle\">predicted</text>")
        out.append(
            "<text transform=\"translate(10 \(Int(top + cell * Double(size) / 2))) rotate(-90)\" "
                + "text-anchor=\"middle\">true</text>")
        for index in 0..<size {
            let position = Int(left + cell * (Double(index) + 0.5))
            out.append("<text x=\"\(position)\" y=\"\(Int(top) - 6)\" text-anchor=\"middle\">")
            out.text(label(index))
            out.append(
                "</text><text x=\"\(Int(left) - 6)\" y=\"\(Int(top + cell * (Double(index) + 0.5)) + 4)\" text-anchor=\"end\">"
            )
            out.text(label(index))
            out.append("</text>")
        }
        for (row, counts) in matrix.enumerated() {
            let rowTotal = counts.reduce(0, +)
            for (column, count) in counts.enumerated() {
                let share = rowTotal > 0 ? count / rowTotal : 0
                let x = Int(left + cell * Double(column))
                let y = Int(top + cell * Double(row))
                out.append(
                    "<g><title>")
                out.text(
                    "true \(label(row)), predicted \(label(column)): \(RunText.number(count)) "
                        + "(\(String(format: "%.1f", share * 100))% of the row)")
                out.append(
                    "</title><rect x=\"\(x)\" y=\"\(y)\" width=\"\(Int(cell) - 1)\" height=\"\(Int(cell) - 1)\" "
                        + "fill=\"\(Self.blue(share))\"/><text x=\"\(x + Int(cell / 2))\" y=\"\(y + Int(cell / 2) + 4)\" "
                        + "text-anchor=\"middle\" style=\"fill:\(share > 0.5 ? "#fff" : "#111")\">"
                        + RunText.number(count) + "</text></g>")
            }
        }
        out.append("</svg>")
        return out.markup
    }

    /// A single-hue sequential scale (white to dark blue) by share of the row: readable for every colour vision.
    static func blue(_ share: Double) -> String {
        let t = max(0, min(1, share))
        let from = (247.0, 251.0, 255.0)
        let to = (8.0, 48.0, 107.0)
        func mix(_ a: Double, _ b: Double) -> Int { Int((a + (b - a) * t).rounded()) }
        return String(format: "#%02x%02x%02x", mix(from.0, to.0), mix(from.1, to.1), mix(from.2, to.2))
    }

    private func bars(_ fields: [(field: String, label: String, colour: String)]) -> String {
        let classes = evaluation.classes
        let bar = 12.0
        let group = bar * Double(fields.count) + 14
        let left = 34.0
        let top = 26.0
        let plot = 120.0
        let width = left + group * Double(classes.count) + 8
        let height = top + plot + 22
        let values = classes.flatMap { name in fields.compactMap { evaluation.perClass[name]?[$0.field] } }
        let scale = max(1, values.max() ?? 1)
        var out = HTMLBuffer()
        out.append(
            "<svg class=\"bars\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" role=\"img\" "
                + "aria-label=\"")
        out.text(
            "Per-class "
                + fields.map(\.label).joined(separator: ", ") + " of run \(run.shortID): "
                + classes.map { name in
                    name + " "
                        + fields.map { field in
                            field.label + " " + (evaluation.perClass[name]?[field.field].map(RunText.number) ?? "-")
                        }.joined(separator: " ")
                }.joined(separator: "; "))
        out.append("\">")
        var legendX = left
        for field in fields {
            out.append(
                "<rect x=\"\(Int(legendX))\" y=\"4\" width=\"10\" height=\"10\" fill=\"\(field.colour)\"/>"
                    + "<text x=\"\(Int(legendX) + 13)\" y=\"13\">\(HTMLText.escape(field.label))</text>")
            legendX += 40
        }
        for tick in [0.0, 0.5, 1.0] {
            let y = top + plot - plot * tick / scale
            out.append(
                "<line x1=\"\(Int(left))\" x2=\"\(Int(width) - 4)\" y1=\"\(HTMLText.pixel(y))\" y2=\"\(HTMLText.pixel(y))\" "
                    + "stroke=\"#ddd\"/><text x=\"\(Int(left) - 4)\" y=\"\(HTMLText.pixel(y + 4))\" "
                    + "text-anchor=\"end\">\(RunText.number(tick))</text>")
        }
        for (index, name) in classes.enumerated() {
            let x0 = left + group * Double(index) + 7
            for (slot, field) in fields.enumerated() {
                guard let value = evaluation.perClass[name]?[field.field] else { continue }
                let barHeight = plot * max(0, value) / scale
                out.append(
                    "<rect x=\"\(HTMLText.pixel(x0 + bar * Double(slot)))\" y=\"\(HTMLText.pixel(top + plot - barHeight))\" "
                        + "width=\"\(Int(bar) - 1)\" height=\"\(HTMLText.pixel(barHeight))\" fill=\"\(field.colour)\">"
                        + "<title>")
                out.text("\(name) \(field.label) \(RunText.number(value))")
                out.append("</title></rect>")
            }
            out.append(
                "<text x=\"\(HTMLText.pixel(x0 + bar * Double(fields.count) / 2))\" y=\"\(Int(height) - 6)\" text-anchor=\"middle\">"
            )
            out.text(name)
            out.append("</text>")
        }
        out.append("</svg>")
        return out.markup
    }

    private func perClassTable() -> String {
        let fields = Set(evaluation.perClass.values.flatMap(\.keys))
        let ordered =
            Self.barFields.map(\.field).filter(fields.contains)
            + fields.subtracting(Self.barFields.map(\.field)).sorted()
        var out = HTMLBuffer()
        out.append("<table class=\"perclass\"><thead><tr><th scope=\"col\">class</th>")
        for field in ordered {
            out.append("<th scope=\"col\" class=\"num\">")
            out.text(Self.barFields.first { $0.field == field }?.label ?? field)
            out.append("</th>")
        }
        out.append("</tr></thead><tbody>")
        for name in evaluation.classes {
            out.append("<tr><th scope=\"row\">")
            out.text(name)
            out.append("</th>")
            for field in ordered {
                out.append("<td class=\"num\">")
                out.text(evaluation.perClass[name]?[field].map(RunText.number) ?? "-")
                out.append("</td>")
            }
            out.append("</tr>")
        }
        out.append("</tbody></table>")
        return out.markup
    }
}
