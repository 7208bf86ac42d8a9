import Foundation

/// The stage graph as SVG: stages in columns by depth (a stage sits right of everything it depends on), edges as
/// curves, each box filled by its outcome in the newest run and naming it in words, so colour is never the only cue.
struct StageGraphDrawing {
    var stages: [ReportStage]
    var run: String

    static let boxWidth = 150.0
    static let boxHeight = 46.0
    static let columnGap = 60.0
    static let rowGap = 16.0

    /// Column of every stage: 0 for stages without upstream, else one past the deepest upstream stage.
    func depths() -> [String: Int] {
        var depth: [String: Int] = [:]
        let known = Set(stages.map(\.name))
        // `stages` is in topological order, so one pass suffices; a stray name (not in the graph) counts as depth 0.
        for stage in stages {
            depth[stage.name] = (stage.upstream.filter(known.contains).compactMap { depth[$0] }.max() ?? -1) + 1
        }
        return depth
    }

    func svg() -> String {
        let depth = depths()
        var columns: [Int: [String]] = [:]
        for stage in stages { columns[depth[stage.name] ?? 0, default: []].append(stage.name) }
        let columnCount = (columns.keys.max() ?? 0) + 1
        let rowCount = columns.values.map(\.count).max() ?? 1
        var position: [String: (x: Double, y: Double)] = [:]
        for (column, names) in columns {
            for (row, name) in names.enumerated() {
                position[name] = (
                    8 + Double(column) * (Self.boxWidth + Self.columnGap),
                    8 + Double(row) * (Self.boxHeight + Self.rowGap)
                )
            }
        }
        let width = 16 + Double(columnCount) * Self.boxWidth + Double(columnCount - 1) * Self.columnGap
        let height = 16 + Double(rowCount) * Self.boxHeight + Double(rowCount - 1) * Self.rowGap
        var out = HTMLBuffer()
        let summary = stages.map { "\($0.name): \($0.outcome?.rawValue ?? "not in this run")" }.joined(separator: ", ")
        out.append(
            "<svg class=\"graph\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" role=\"img\" "
                + "aria-label=\"")
        out.text("Stage graph, outcomes in run \(run): \(summary)")
        out.append(
            "\"><defs><marker id=\"arrow\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"7\" "
                + "markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0L8,4L0,8z\" fill=\"#555\"/></marker></defs>")
        for stage in stages {
            guard let to = position[stage.name] else { continue }
            for upstream in stage.upstream {
                guard let from = position[upstream] else { continue }
                let x1 = from.x + Self.boxWidth
                let y1 = from.y + Self.boxHeight / 2
                let x2 = to.x - 2
                let y2 = to.y + Self.boxHeight / 2
                let bend = (x2 - x1) / 2
                out.append(
                    "<path class=\"edge\" marker-end=\"url(#arrow)\" d=\"M\(HTMLText.pixel(x1)),\(HTMLText.pixel(y1)) "
                        + "C\(HTMLText.pixel(x1 + bend)),\(HTMLText.pixel(y1)) \(HTMLText.pixel(x2 - bend)),"
                        + "\(HTMLText.pixel(y2)) \(HTMLText.pixel(x2)),\(HTMLText.pixel(y2))\"/>")
            }
        }
        for stage in stages {
            guard let at = position[stage.name] else { continue }
            let outcome = stage.outcome?.rawValue ?? "none"
            let light = stage.outcome == .skipped || stage.outcome == nil || stage.outcome == .restored
            out.append(
                "<g class=\"stage\" data-stage=\"\(HTMLText.escape(stage.name))\" data-outcome=\"\(outcome)\">"
                    + "<rect class=\"o-\(outcome)\" x=\"\(Int(at.x))\" y=\"\(Int(at.y))\" width=\"\(Int(Self.boxWidth))\" "
                    + "height=\"\(Int(Self.boxHeight))\" rx=\"6\"\(stage.outcome == nil ? " stroke-dasharray=\"4 3\"" : "")/>"
                    + "<text class=\"name\" x=\"\(Int(at.x + Self.boxWidth / 2))\" y=\"\(Int(at.y) + 19)\" "
                    + "text-anchor=\"middle\" style=\"fill:\(light ? "#111" : "#fff")\">")
            out.text(Self.clip(stage.name, 20))
            out.append(
                "</text><text x=\"\(Int(at.x + Self.boxWidth / 2))\" y=\"\(Int(at.y) + 35)\" text-anchor=\"middle\" "
                    + "style=\"fill:\(light ? "#111" : "#fff")\">")
            out.text(stage.outcome?.rawValue ?? "not in this run")
            out.append("</text></g>")
        }
        out.append("</svg>")
        return out.markup
    }

    static func clip(_ text: String, _ count: Int) -> String {
        text.count <= count ? text : String(text.prefix(count - 1)) + "…"
    }
}
