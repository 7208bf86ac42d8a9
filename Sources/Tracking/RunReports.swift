import Foundation

/// What `runs list` asks for.
public struct RunQuery: Sendable, Equatable {
    public var filter: FilterExpression?
    public var sort: [SortKey]
    public var limit: Int?

    public init(filter: FilterExpression? = nil, sort: [SortKey] = [], limit: Int? = nil) {
        self.filter = filter
        self.sort = sort
        self.limit = limit
    }
}

/// One row of `runs list`: the run, its params and its latest metric values.
public struct RunSummary: Sendable, Equatable, Codable {
    public var run: RunRecord
    /// The shortest prefix (at least 8 characters) that names this run alone in the store.
    public var shortID: String
    /// Every resolved param, by dotted key.
    public var params: [String: String]
    /// Keys whose value came from a `-S` override.
    public var overriddenParams: [String]
    /// The latest value (highest step) of every metric, by key.
    public var metrics: [String: Double]
    /// The sweep this run is an experiment of (`pipe exp run`), if any.
    public var sweep: String? = nil
    /// Matrices and tables from its metrics files (a confusion matrix, per-class scores), by key.
    public var structuredMetrics: [String: JSONValue] = [:]
    /// The metric keys a listing shows first for this run: the headlines its pipeline declared for its metrics
    /// files, in stage order; without any, the keys of its last recorded metrics file (the last stage's), sorted.
    public var headlineMetrics: [String] = []
}

/// The result of `runs list`.
public struct RunListing: Sendable, Equatable, Codable {
    public var runs: [RunSummary]
    /// Param keys whose values differ between the listed runs (or that some lack), sorted.
    public var differingParamKeys: [String]
    /// Every metric key any listed run has, sorted.
    public var metricKeys: [String]
    /// Every structured metric key (matrices, tables) any listed run has, sorted.
    public var structuredMetricKeys: [String] = []
    /// The metric keys to show first, in order: each listed run's `headlineMetrics`, in listing order, once each.
    public var headlineMetricKeys: [String] = []
    /// When the listing was made; running runs' durations are measured to it.
    public var now: Date

    public init(runs: [RunSummary], differingParamKeys: [String], metricKeys: [String], now: Date) {
        self.runs = runs
        self.differingParamKeys = differingParamKeys
        self.metricKeys = metricKeys
        self.now = now
        structuredMetricKeys = Set(runs.flatMap(\.structuredMetrics.keys)).sorted()
        var seen = Set<String>()
        headlineMetricKeys = runs.flatMap(\.headlineMetrics).filter { seen.insert($0).inserted }
    }
}

/// A metric's whole history in one run, for `runs show`.
public struct MetricHistory: Sendable, Equatable, Codable {
    public var key: String
    public var stage: String
    public var first: Double
    public var last: Double
    public var min: Double
    public var max: Double
    /// How many values were logged.
    public var count: Int
    /// (step, value) in step order.
    public var steps: [Step]

    public struct Step: Sendable, Equatable, Codable {
        public var step: Int64
        public var value: Double
        public var timestamp: Date
    }
}

/// Everything about one run, for `runs show`.
public struct RunDetail: Sendable, Equatable, Codable {
    public var summary: RunSummary
    public var stages: [StageRunRecord]
    public var params: [ParamRecord]
    public var metrics: [MetricHistory]
    public var artifacts: [ArtifactRecord]
    /// Workspace-relative folder of the run's logs: `runs/<id>/`.
    public var folder: String
}

/// Two runs side by side, for `runs diff`.
public struct RunDiff: Sendable, Equatable, Codable {
    public struct Row: Sendable, Equatable, Codable {
        public var key: String
        public var a: String?
        public var b: String?
        /// b − a when both are numbers.
        public var delta: Double?
        public var differs: Bool { a != b }
    }

    public var a: RunSummary
    public var b: RunSummary
    /// Param rows, sorted by key; only differing ones unless the diff was asked for `all`.
    public var params: [Row]
    /// Metric rows (latest values), sorted by key; only differing ones unless `all`.
    public var metrics: [Row]
}
