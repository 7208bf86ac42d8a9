import ArgumentParser
import Foundation
import PipelineEngine
import Report
import Tracking

/// `pipe report`: one self-contained HTML page comparing runs, chosen as `pipe runs list` chooses them.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract:
            "Write one self-contained HTML page comparing runs: table, learning curves, evaluation, diff, stages.",
        discussion: """
            Runs are chosen as `pipe runs list` chooses them (newest first, --where EXPR, --limit N; default the \
            last 10), or named (id prefix, @last, @last~N). The page needs no server and no network, and its \
            tables and charts are readable with JavaScript off.
            """)

    @Argument(
        help: ArgumentHelp("Runs to report (id prefix, @last, @last~N); default: as selected below.", valueName: "RUN"))
    var runs: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the page.", valueName: "FILE"))
    var output = "report.html"

    @Option(
        name: .customLong("where"),
        help: ArgumentHelp("Only runs matching EXPR (see `pipe runs list --help`).", valueName: "EXPR"))
    var filter: String?

    @Option(help: "At most N runs, the newest (default 10).")
    var limit: Int?

    @Option(help: ArgumentHelp("Only these metrics in the table and the curves, comma-separated.", valueName: "K,..."))
    var metrics: String?

    @Flag(help: "Open the page in the desktop's browser (xdg-open) once written.")
    var open = false

    @OptionGroup var workspaceOptions: WorkspaceOptions

    static let defaultLimit = 10

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if !runs.isEmpty, filter != nil || limit != nil {
            throw ValidationError("name runs or select them with --where/--limit, not both")
        }
        do { _ = try selection() } catch let error as TrackingError { throw ValidationError(error.description) }
    }

    /// The runs to show: named ones, or the query `pipe runs list --where EXPR --limit N` runs.
    func selection() throws -> ReportSelection {
        if !runs.isEmpty { return .runs(runs) }
        let count = limit ?? Self.defaultLimit
        let query = RunQuery(
            filter: try filter.map(FilterExpression.init(parsing:)), sort: [.newestFirst], limit: count)
        let empty =
            filter.map { "no run matches --where \($0)" } ?? "the store holds no runs yet (pipe repro records them)"
        return .query(query, description: empty)
    }

    func run() throws {
        let start = URL(
            fileURLWithPath: workspaceOptions.directory ?? FileManager.default.currentDirectoryPath, isDirectory: true
        ).standardizedFileURL
        let workspace = try? workspaceOptions.workspace()
        let root = workspace?.root ?? start
        var graph: StageGraph?
        var graphNote: String?
        if let workspace {
            do { graph = try workspace.loadGraph() } catch { graphNote = "pipeline.yaml not read: \(error)" }
        }
        let store = try RunStore.openForReading(workspace: root)
        let selection = try selection()
        let header = ReportHeader.now(
            workspace: root, pipeVersion: PipeCommand.version,
            selection: {
                guard runs.isEmpty else { return "named: " + runs.joined(separator: " ") }
                let count = limit ?? Self.defaultLimit
                return "newest first, " + (filter.map { "matching \($0), at most \(count)" } ?? "the last \(count)")
            }())
        let metricKeys = metrics.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        let content = try ReportContent.load(
            store: store, selection: selection, graph: graph, graphNote: graphNote, header: header,
            metricFilter: metricKeys)
        let target = URL(fileURLWithPath: output, relativeTo: start).standardizedFileURL
        let html = ReportPage(content: content).html()
        try ReportFile.write(html, to: target, display: output)
        Console.output(
            "wrote \(output) (\(content.listing.runs.count) run\(content.listing.runs.count == 1 ? "" : "s"), "
                + "\(html.utf8.count / 1024) KB)")
        if open { openInBrowser(target) }
    }

    private func openInBrowser(_ url: URL) {
        let opener = Process()
        opener.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        opener.arguments = ["xdg-open", url.absoluteString]
        opener.standardOutput = FileHandle.nullDevice
        opener.standardError = FileHandle.nullDevice
        do { try opener.run() } catch {
            Console.error("warning: cannot open a browser; the page is \(url.absoluteString)")
        }
    }
}
