import ContentStore
import Foundation
import Yams

/// An in-process stage that a `pipeline.yaml` names with `uses:`.
///
/// Lifecycle: the engine calls `run(_:)` at most once per repro, on a worker thread, after every upstream
/// stage has finished and after the stage's non-persistent outputs were removed. Several different stages
/// may run at the same time, so `run` must not touch shared mutable state. It must be deterministic: the
/// same deps, params and thread count give bit-identical outputs. It writes only its declared outputs,
/// preferably through `StageContext.write(_:to:)`, which writes atomically.
public protocol BuiltinStage: Sendable {
    /// The name used in `uses:`, e.g. `ecg.train`.
    var name: String { get }
    /// Bump when the stage's code changes what it produces; part of the signature.
    var codeVersion: String { get }
    /// Keys read from `stages/NAME.yaml`; always part of the stage's params.
    var declaredParams: [String] { get }
    func run(_ context: StageContext) throws
}

/// The built-in stages a pipeline may use. The CLI fills it; engine tests register their own.
public final class StageRegistry: @unchecked Sendable {
    private var stages: [String: BuiltinStage] = [:]

    public init(_ stages: [BuiltinStage] = []) {
        for stage in stages { register(stage) }
    }

    public func register(_ stage: BuiltinStage) { stages[stage.name] = stage }
    public func stage(named name: String) -> BuiltinStage? { stages[name] }
    public var names: [String] { stages.keys.sorted() }
}

/// A failure inside a built-in stage; its message is shown as the stage's failure.
public struct StageFailure: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What a running built-in stage sees: its params, paths, and channels back to the engine.
public final class StageContext: @unchecked Sendable {
    public let stageName: String
    public let workspace: URL
    public let params: ResolvedParams
    public let deps: [String]
    public let outputs: [String]
    private let emitLine: (String) -> Void
    private let emitProgress: (String) -> Void
    private let emitMetrics: ([String: Double], Int) -> Void
    private let rememberDigest: (String, FileStat, Digest) -> Void

    /// Engine runs build the context; tests may build one to call a stage directly.
    public init(
        stageName: String, workspace: URL, params: ResolvedParams, deps: [String], outputs: [String],
        emitLine: @escaping (String) -> Void,
        emitProgress: @escaping (String) -> Void = { _ in },
        emitMetrics: @escaping ([String: Double], Int) -> Void,
        rememberDigest: @escaping (String, FileStat, Digest) -> Void = { _, _, _ in }
    ) {
        self.stageName = stageName
        self.workspace = workspace
        self.params = params
        self.deps = deps
        self.outputs = outputs
        self.emitLine = emitLine
        self.emitProgress = emitProgress
        self.emitMetrics = emitMetrics
        self.rememberDigest = rememberDigest
    }

    /// The absolute URL of a workspace-relative path.
    public func url(_ relativePath: String) -> URL { workspace.appendingPathComponent(relativePath) }

    /// A line of progress, shown with the stage's prefix and kept in its log.
    public func log(_ line: String) { emitLine(line) }

    /// A transient progress line (bar, rate, ETA), drawn in place on a terminal and never logged. Stages
    /// still `log` one line per milestone so that a non-terminal run shows progress too.
    public func progress(_ line: String) { emitProgress(line) }

    /// Metric values at a step (an epoch), forwarded to the run tracker as one batch.
    public func logMetrics(_ values: [String: Double], step: Int) { emitMetrics(values, step) }

    /// Writes a workspace-relative file atomically (temporary file, flush, rename).
    public func write(_ data: Data, to relativePath: String) throws {
        try AtomicFile.write(data, to: url(relativePath))
    }

    /// Streams a large output file (inside the workspace) into place atomically, hashing it on the way so that
    /// the engine need not read it back to hash it. It is renamed into place but not flushed to disk: a power cut
    /// can lose it, and the next repro, finding it differ from the lock, rebuilds it.
    public func writeOutput(to url: URL, _ body: (AtomicFile.Sink) throws -> Void) throws {
        let (digest, stat) = try AtomicFile.writeHashing(to: url, durable: false, body)
        let root = workspace.standardizedFileURL.path + "/"
        let path = url.standardizedFileURL.path
        if path.hasPrefix(root) { rememberDigest(String(path.dropFirst(root.count)), stat, digest) }
    }
}
