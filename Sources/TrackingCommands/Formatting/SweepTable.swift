import Foundation
import Tracking

/// `pipe exp show`: a sweep's runs side by side, the swept params first, then the other params that differ,
/// the latest metrics and the duration.
public enum SweepTable {
    public static func render(
        _ listing: RunListing, swept: [String], experiments: [RunID: Int], markdown: Bool = false
    ) -> String {
        if listing.runs.isEmpty { return "no runs\n" }
        let cells = Cells()
        let leading = swept.map(RunField.param)
        let others = listing.differingParamKeys.filter { !swept.contains($0) }.map(RunField.param)
        let fields: [RunField] =
            [.id, .status] + leading + others + listing.metricKeys.map(RunField.metric) + [.duration]
        let header =
            ["exp"]
            + fields.map { field -> String in
                if case .param(let key) = field { return key }
                return field.description
            }
        let rows = listing.runs.map { summary in
            [experiments[summary.run.id].map(String.init) ?? "-"]
                + fields.map { cells.cell($0, summary, now: listing.now) }
        }
        if markdown {
            var lines = ["| " + header.joined(separator: " | ") + " |", "|" + header.map { _ in " --- |" }.joined()]
            for row in rows {
                lines.append(
                    "| " + row.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |")
            }
            return lines.joined(separator: "\n") + "\n"
        }
        var right: Set<Int> = [0]
        for (offset, field) in fields.enumerated() {
            switch field {
            case .metric, .duration: right.insert(offset + 1)
            default: break
            }
        }
        return TextTable(header: header, rows: rows, rightAligned: right).render()
    }
}
