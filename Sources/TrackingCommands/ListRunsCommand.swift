import ArgumentParser
import Foundation
import Tracking

/// `pipe runs list`: runs side by side with the params that differ between them and their latest metrics.
struct ListRunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List runs: id, start, duration, status, commit, differing params, latest metrics.",
        discussion: """
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

    @Flag(help: "Output format (default: an aligned table).")
    var format: RunListFormat = .table

    @OptionGroup var store: StoreOptions

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
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
        print(RunListFormatter(format: format, columns: try columnFields()).render(listing), terminator: "")
    }
}

/// How `runs list` prints.
enum RunListFormat: String, EnumerableFlag {
    case table, json, csv, md

    static func help(for value: RunListFormat) -> ArgumentHelp? {
        switch value {
        case .table: return "An aligned text table."
        case .json: return "JSON: every param and latest metric of each run."
        case .csv: return "CSV with a header row."
        case .md: return "A Markdown table."
        }
    }
}

extension Array {
    var nonEmpty: [Element]? { isEmpty ? nil : self }
}
