import ArgumentParser
import Experiments
import Foundation
import Tracking
import TrackingCommands

/// `pipe exp show [NAME]`: a sweep's experiments side by side, swept params first.
struct ExpShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Compare a sweep's experiments (the latest sweep when NAME is omitted).")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Argument(help: "The sweep's name.")
    var name: String?

    @Option(help: ArgumentHelp("Order by KEY (params.KEY, metrics.KEY or a run field).", valueName: "KEY[:asc|desc]"))
    var sort: [String] = []

    @Flag(help: "A Markdown table.")
    var md = false

    func validate() throws {
        do { _ = try sort.map(SortKey.init(parsing:)) } catch let error as TrackingError {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        let workspace = try workspaceOptions.workspace()
        let store = try RunStore.openForReading(workspace: workspace.root)
        let layout = SweepLayout(main: workspace.root)
        let known = try store.sweepNames()
        guard let sweep = name ?? known.first else {
            throw ExperimentError.unknownSweep(name: name ?? "", known: layout.sweepNames())
        }
        let plan = try? SweepPlan.load(layout, name: sweep)
        guard known.contains(sweep) || plan != nil else {
            throw ExperimentError.unknownSweep(name: sweep, known: known)
        }
        print(
            try Self.table(
                store: store, name: sweep, plan: plan, sort: try sort.map(SortKey.init(parsing:)), markdown: md),
            terminator: "")
    }

    /// The comparison table of sweep `name`: experiment number, run, status, swept params, differing params,
    /// metrics, duration. Ordered by experiment unless `sort` says otherwise.
    static func table(store: RunStore, name: String, plan: SweepPlan?, sort: [SortKey], markdown: Bool = false) throws
        -> String
    {
        let runs = try store.sweepRuns(name: name)
        var query = RunQuery(filter: FilterExpression(comparisons: [.init(.sweep, .equal, .text(name))]))
        query.sort = sort
        var listing = try store.list(query)
        let experiments = Dictionary(runs.map { ($0.run, $0.tag.experiment) }, uniquingKeysWith: { $1 })
        if sort.isEmpty {
            listing.runs.sort {
                (experiments[$0.run.id] ?? 0, $0.run.id.rawValue) < (experiments[$1.run.id] ?? 0, $1.run.id.rawValue)
            }
        }
        // Swept params first, in the plan's axis order (the overridden keys when the plan is gone).
        let swept =
            plan?.swept
            ?? Array(Set(listing.runs.flatMap(\.overriddenParams))).sorted().filter { key in
                Set(listing.runs.map { $0.params[key] }).count > 1
            }
        return SweepTable.render(listing, swept: swept, experiments: experiments, markdown: markdown)
    }
}
