import ArgumentParser
import Foundation
import Tracking

/// `pipe runs list`: runs side by side with the params that differ between them and their latest metrics.
struct ListRunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List runs: id, start, status, commit, differing params, headline metrics, fitted to the terminal.",
        discussion: """
            The table fits COLUMNS, else the terminal's width, else 120: id, start, status and commit, then as many \
            of the headline metrics (`headline:` of a metrics file in pipeline.yaml; else the last stage's), the \
            differing params, the duration and the other metrics as fit, and a line counting the columns left out. \
            --all shows every column; --json, --csv and --md keep every value.

            EXPR: comparisons joined by 'and', e.g.
              metrics.eval.accuracy > 0.9 and params.train.lr = 0.001 and status = succeeded
            Operators: = != < <= > >=. Fields: id, kind, status, start, end, duration, commit, branch, dirty,
            user, host, pid, version, sweep, params.KEY, metrics.KEY. Quoted values are compared as text.
            """)

    @Option(name: .customLong("where"), help: ArgumentHelp("Only runs matching EXPR.", valueName: "EXPR"))
    var filter: String?

    @Option(
        help: ArgumentHelp(
            "Order by KEY (a field, params.KEY or metrics.KEY); newest first by default.",
            valueName: "KEY[:asc|desc]"))
    var sort: [String] = []

    @Option(help: "Show at most N runs.")
    var limit: Int?

    @Option(
        help: ArgumentHelp(
            "Show exactly these columns, comma-separated (id,status,params.train.lr,metrics.acc).",
            valueName: "K,..."))
    var columns: String?

    @Flag(help: "Show every column (the default table fits the terminal: COLUMNS, the tty's width, else 120).")
    var all = false

    @Flag(help: "Output format (default: an aligned table).")
    var format: RunListFormat = .table

    @OptionGroup var store: StoreOptions

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if all, columns != nil { throw ValidationError("--all and --columns exclude each other") }
        do {
            _ = try query()
            _ = try columnFields()
        } catch let error as TrackingError {
            throw ValidationError(error.description)
        }
    }

    func query() throws -> RunQuery {
        RunQuery(
            filter: try filter.map(FilterExpression.init(parsing:)),
            sort: try sort.map(SortKey.init(parsing:)).nonEmpty ?? [.newestFirst], limit: limit)
    }

    func columnFields() throws -> [RunField]? {
        try columns.map { text in
            try text.split(separator: ",").map { try RunField(parsing: $0.trimmingCharacters(in: .whitespaces)) }
        }
    }

    func run() throws {
        let listing = try store.openStoreForReading().list(try query())
        let fields = try columnFields()
        if let fields { try Self.checkColumns(fields, in: listing) }
        let formatter = RunListFormatter(format: format, columns: fields, width: all ? nil : TerminalWidth.current())
        print(formatter.render(listing), terminator: "")
    }

    /// Every named param or metric must be one some listed run has; an empty listing has nothing to check against.
    static func checkColumns(_ fields: [RunField], in listing: RunListing) throws {
        guard !listing.runs.isEmpty else { return }
        let params = Set(listing.runs.flatMap(\.params.keys))
        let metrics = Set(listing.metricKeys + listing.structuredMetricKeys)
        for field in fields {
            switch field {
            case .param(let key) where !params.contains(key), .metric(let key) where !metrics.contains(key):
                let known = params.map { "params.\($0)" } + metrics.map { "metrics.\($0)" }
                throw TrackingError.unknownColumn(
                    key: field.description, closest: RunField.closest(to: field.description, among: known))
            default: continue
            }
        }
    }
}

/// How wide the default `runs list` table may be: `COLUMNS` when it is a positive number, else the width of the
/// terminal on stdout, else (output to a file or a pipe) 120.
enum TerminalWidth {
    static let fallback = 120

    static func current(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        if let text = environment["COLUMNS"], let columns = Int(text), columns > 0 { return columns }
        var size = winsize()
        if isatty(STDOUT_FILENO) == 1, ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 {
            return Int(size.ws_col)
        }
        return fallback
    }
}

/// How `runs list` prints.
enum RunListFormat: String, EnumerableFlag {
    case table, json, csv, md

    static func help(for value: RunListFormat) -> ArgumentHelp? {
        switch value {
        case .table: return "An aligned text table."
        case .json: return "JSON: every param, latest metric and structured value (matrix, table) of each run."
        case .csv: return "CSV with a header row."
        case .md: return "A Markdown table."
        }
    }
}

extension Array {
    var nonEmpty: [Element]? { isEmpty ? nil : self }
}
