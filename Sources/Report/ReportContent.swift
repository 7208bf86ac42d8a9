import Foundation
import PipelineEngine
import Tracking

/// Which runs a report shows: named runs, or a query exactly as `pipe runs list` runs it.
public enum ReportSelection: Sendable, Equatable {
    /// Id prefixes, `@last`, `@last~N`, in the given order (duplicates once).
    case runs([String])
    /// `RunStore.list(_:)`, the query behind `pipe runs list --where … --limit …`.
    case query(RunQuery, description: String)
}

/// The facts in the page's header.
public struct ReportHeader: Sendable, Equatable {
    public var workspace: String
    public var git: GitFacts
    public var generatedAt: Date
    public var pipeVersion: String
    /// How the runs were chosen, in words (`the last 10 runs`, `--where …`).
    public var selection: String
}

extension ReportHeader {
    /// The header of a page made now in `workspace`, with the git facts read there.
    public static func now(workspace: URL, pipeVersion: String, selection: String) -> ReportHeader {
        ReportHeader(
            workspace: workspace.path, git: GitFacts.read(workspace: workspace), generatedAt: Date(),
            pipeVersion: pipeVersion, selection: selection)
    }
}

/// One stage of the pipeline's graph with its outcome in the newest run.
public struct ReportStage: Sendable, Equatable {
    public var name: String
    public var upstream: [String]
    public var outcome: StageOutcomeKind?
    public var reason: String?
    public var duration: Double?
}

/// Everything the page shows, read from the run store (and the stage graph) once; the page builder only formats.
public struct ReportContent: Sendable {
    public var header: ReportHeader
    /// The selected runs, in selection order, with differing params and metric keys.
    public var listing: RunListing
    /// Every logged value of every selected run, by run and key.
    public var histories: [RunID: [String: MetricSeries]]
    /// `pipe runs diff` of the two newest selected runs (older first); nil with fewer than two runs.
    public var diff: RunDiff?
    /// The stage graph in topological order with the newest run's outcomes; empty without a pipeline.
    public var stages: [ReportStage]
    /// Why the stage graph is missing, when it is (no pipeline.yaml, a bad one).
    public var stagesNote: String?
    /// `--metrics`: only these metric keys in the table and the curves; nil for all.
    public var metricFilter: [String]?

    /// The newest selected run (highest id: ids sort by start time).
    public var newestRun: RunSummary? { listing.runs.max { $0.run.id < $1.run.id } }

    /// Reads the selected runs, their histories, the diff of the two newest and the newest run's stage outcomes.
    /// Throws `TrackingError.runNotFound` for an unknown run and `ReportError.noRuns` for an empty selection.
    public static func load(
        store: RunStore, selection: ReportSelection, graph: StageGraph?, graphNote: String? = nil,
        header: ReportHeader, metricFilter: [String]? = nil, now: Date = Date()
    ) throws -> ReportContent {
        let listing: RunListing
        switch selection {
        case .runs(let references):
            var ids: [RunID] = []
            for reference in references {
                let id = try store.resolve(reference)
                if !ids.contains(id) { ids.append(id) }
            }
            listing = RunListing(runs: try ids.map { try store.show($0).summary }, now: now)
        case .query(let query, let description):
            listing = try store.list(query, now: now)
            if listing.runs.isEmpty { throw ReportError.noRuns(selection: description) }
        }
        guard !listing.runs.isEmpty else { throw ReportError.noRuns(selection: "no run named") }
        let ids = listing.runs.map(\.run.id)
        let newestTwo = ids.sorted().suffix(2)
        let diff =
            newestTwo.count == 2
            ? try store.diff(newestTwo[newestTwo.startIndex], newestTwo[newestTwo.startIndex + 1]) : nil
        var stages: [ReportStage] = []
        var note = graphNote
        if let newest = ids.max() {
            let records = try store.show(newest).stages
            let byStage = Dictionary(records.map { ($0.stage, $0) }, uniquingKeysWith: { _, last in last })
            if let graph {
                stages = graph.order.map { name in
                    let record = byStage[name]
                    return ReportStage(
                        name: name, upstream: graph.upstream[name] ?? [], outcome: record?.outcome,
                        reason: record?.reason, duration: record?.duration)
                }
            } else {
                stages = records.map {
                    ReportStage(
                        name: $0.stage, upstream: [], outcome: $0.outcome, reason: $0.reason, duration: $0.duration)
                }
                if note == nil { note = "no pipeline graph: the stages are those of the newest run, unconnected" }
            }
        }
        return ReportContent(
            header: header, listing: listing, histories: try store.histories(of: ids), diff: diff, stages: stages,
            stagesNote: note, metricFilter: metricFilter)
    }
}
