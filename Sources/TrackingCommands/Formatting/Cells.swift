import Foundation
import Tracking

/// How times, durations and numbers read in the text outputs.
struct Cells {
    var timeZone: TimeZone {
        didSet { formatters = Formatters(timeZone: timeZone) }
    }
    /// Date formatters are expensive to make on Linux; one set per `Cells`.
    private var formatters: Formatters

    init(timeZone: TimeZone = .current) {
        self.timeZone = timeZone
        self.formatters = Formatters(timeZone: timeZone)
    }

    private final class Formatters {
        let minutes: DateFormatter
        let seconds: DateFormatter
        let iso: ISO8601DateFormatter

        init(timeZone: TimeZone) {
            func make(_ format: String) -> DateFormatter {
                let formatter = DateFormatter()
                formatter.locale = Locale(identifier: "en_US_POSIX")
                formatter.timeZone = timeZone
                formatter.dateFormat = format
                return formatter
            }
            minutes = make("yyyy-MM-dd HH:mm")
            seconds = make("yyyy-MM-dd HH:mm:ss")
            iso = ISO8601DateFormatter()
            iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        }
    }

    /// `2026-11-25 14:03` in `timeZone`.
    func time(_ date: Date, seconds: Bool = false) -> String {
        (seconds ? formatters.seconds : formatters.minutes).string(from: date)
    }

    /// The text of `field` for one listed run. `full` gives ids, commits and times unabbreviated (CSV).
    func cell(_ field: RunField, _ summary: RunSummary, now: Date, full: Bool = false) -> String {
        let run = summary.run
        switch field {
        case .id: return full ? run.id.rawValue : summary.shortID
        case .kind: return run.kind.rawValue
        case .status: return run.status.rawValue
        case .start: return full ? iso(run.startedAt) : time(run.startedAt)
        case .end: return run.endedAt.map { full ? iso($0) : time($0) } ?? (full ? "" : "-")
        case .duration:
            let seconds = run.duration(now: now)
            if run.endedAt == nil && run.status != .running { return full ? "" : "-" }
            return full ? RunStore.formatNumber((seconds * 1000).rounded() / 1000) : RunText.duration(seconds)
        case .commit:
            if full { return run.gitCommit + (run.gitDirty ? "*" : "") }
            return run.git.shortDescription
        case .branch: return run.gitBranch ?? (full ? "" : "-")
        case .dirty: return run.gitDirty ? "yes" : "no"
        case .user: return run.user
        case .host: return run.host
        case .pid: return String(run.pid)
        case .version: return run.pipeVersion
        case .sweep: return summary.sweep ?? (full ? "" : "-")
        case .param(let key): return summary.params[key] ?? (full ? "" : "-")
        case .metric(let key):
            if let value = summary.metrics[key] { return full ? RunStore.formatNumber(value) : RunText.number(value) }
            guard let structured = summary.structuredMetrics[key] else { return full ? "" : "-" }
            return full ? structured.compactText : Cells.shape(structured)
        }
    }

    /// What a structured value is, in a table cell: `5×5`, `5×4 table`, `list of 3`.
    static func shape(_ value: JSONValue) -> String {
        switch value {
        case .array(let rows):
            let widths = rows.map { row -> Int? in
                if case .array(let cells) = row { return cells.count }
                return nil
            }
            if let first = widths.first, let columns = first, widths.allSatisfy({ $0 == columns }) {
                return "\(rows.count)×\(columns)"
            }
            return "list of \(rows.count)"
        case .object(let rows):
            let columns =
                rows.values.map { row -> Int in
                    if case .object(let cells) = row { return cells.count }
                    return 1
                }.max() ?? 0
            return "\(rows.count)×\(columns) table"
        default:
            return value.compactText
        }
    }

    func iso(_ date: Date) -> String {
        formatters.iso.string(from: date)
    }
}

/// A plain aligned table: two spaces between columns, numbers right-aligned.
struct TextTable {
    var header: [String]
    var rows: [[String]]
    var rightAligned: Set<Int> = []
    var indent = ""

    func render() -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        var output = ""
        for row in all {
            let cells = row.enumerated().map { column, text -> String in
                let padding = String(repeating: " ", count: widths[column] - text.count)
                return rightAligned.contains(column) ? padding + text : text + padding
            }
            var line = indent + cells.joined(separator: "  ")
            while line.hasSuffix(" ") { line.removeLast() }
            output += line + "\n"
        }
        return output
    }
}

/// JSON for `--json`: sorted keys, ISO 8601 dates, pretty-printed.
enum RunJSON {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}
