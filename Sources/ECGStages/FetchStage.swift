import ContentStore
import Foundation
import PipelineEngine
import Transport
import Yams

/// `ecg.fetch`: brings a PhysioNet database (MIT-BIH Arrhythmia 1.0.0 by default) into the stage's output
/// directory, every file verified against the source's SHA-256 sums.
///
/// Params (`stages/NAME.yaml`, all three keys present):
/// - `source`: a local directory (relative to the workspace) or an http(s) base URL with PhysioNet's layout;
///   null means `https://physionet.org/files/mitdb/1.0.0/`. The environment variable `PIPE_MITDB_SOURCE`,
///   when set, overrides it.
/// - `records`: the records to fetch, or null (or `all`) for every record in the source's `RECORDS`.
/// - `extensions`: the files fetched per record, `[hea, dat, atr]` by default.
///
/// The output holds `RECORD.EXT` for each record and extension, plus `RECORDS` (the records fetched) and
/// `SHA256SUMS` (their files' sums, `sha256sum -c` format): the same bytes whatever the source, so the
/// output is deterministic.
///
/// `PIPE_MITDB_SOURCE` is not part of the stage's signature, because the engine only hashes params: switching
/// it does not make the stage stale. That is deliberate rather than merely tolerated: the source is a location,
/// like a DVC remote, and the content is pinned by the source's sums and recorded in `pipeline.lock` as the
/// output's hash, which `pipe status` and `pipe verify` check. The stage logs which source it used and why.
///
/// Downloads go to `.cache/downloads/HOST/PATH/` first (the engine removes a stage's outputs before it runs)
/// and resume from there with `Range` requests, within a run after a dropped connection and across runs after
/// an interruption. A file moves into the output only once its SHA-256 matched.
public struct FetchStage: BuiltinStage {
    public let name = "ecg.fetch"
    public let codeVersion = "1"
    public let declaredParams = ["source", "records", "extensions"]

    public static let defaultSource = "https://physionet.org/files/mitdb/1.0.0/"
    public static let sourceEnvironmentVariable = "PIPE_MITDB_SOURCE"
    public static let defaultExtensions = ["hea", "dat", "atr"]

    /// The environment consulted for `PIPE_MITDB_SOURCE`; nil reads the process's at run time.
    var environment: [String: String]?
    var attempts: Int
    var retryDelay: TimeInterval
    var parallelDownloads: Int
    var timeout: TimeInterval

    /// `environment`: what to read `PIPE_MITDB_SOURCE` from (tests pass `[:]`); `attempts`: tries per HTTP
    /// request, each resuming the previous; `retryDelay`: seconds before the n-th retry, times n.
    public init(
        environment: [String: String]? = nil, attempts: Int = 4, retryDelay: TimeInterval = 1,
        parallelDownloads: Int = 4, timeout: TimeInterval = 30
    ) {
        self.environment = environment
        self.attempts = max(1, attempts)
        self.retryDelay = retryDelay
        self.parallelDownloads = max(1, parallelDownloads)
        self.timeout = timeout
    }

    public func run(_ context: StageContext) throws {
        do {
            try fetch(context)
        } catch let error as FetchError {
            throw StageFailure(error.description)
        }
    }

    private func fetch(_ context: StageContext) throws {
        guard let output = context.outputs.first else {
            throw StageFailure("\(name) writes its database into its first declared output; declare one in outs")
        }
        let (sourceText, origin) = sourceSetting(context.params)
        let source = try makeSource(sourceText, workspace: context.workspace)
        context.log("source \(source.description) (\(origin))")

        let recordsData = try source.index("RECORDS", log: context.log)
        guard let recordsData else { throw FetchError.missingIndex(file: "RECORDS", source: source.description) }
        let allRecords = try RecordsList.parse(recordsData, origin: source.location(of: "RECORDS"))
        let sums = try sumList(source, log: context.log)
        let records = try selectedRecords(context.params, available: allRecords, list: source.location(of: "RECORDS"))
        let extensions = try selectedExtensions(context.params)

        var files: [(name: String, digest: Digest)] = []
        for record in records {
            for fileExtension in extensions {
                let file = "\(record).\(fileExtension)"
                files.append((file, try sums.digest(for: file)))
            }
        }
        let sizes = files.map { source.size(of: $0.name) }
        let knownTotal = sizes.contains(nil) ? nil : sizes.reduce(Int64(0)) { $0 + ($1 ?? 0) }
        context.log(
            "\(records.count) records, \(files.count) files"
                + (knownTotal.map { ", \(TransferProgress.bytes($0))" } ?? "") + " to fetch")

        let outputDirectory = context.url(output)
        let progress = TransferProgress(files: files.map(\.name), knownTotalBytes: knownTotal, emit: context.progress)
        let milestones = MilestoneLog(total: files.count, progress: progress, log: context.log)
        let partialsLock = try (source as? PhysioNetHTTPSource)?.lockPartialDirectory(log: context.log)
        defer { partialsLock?.unlock() }
        let workers = source is PhysioNetHTTPSource ? parallelDownloads : 1
        try runConcurrently(files.count, workers: workers) { index in
            let file = files[index]
            try source.fetch(
                file.name, expected: file.digest, to: outputDirectory.appendingPathComponent(file.name),
                progress: progress, log: context.log)
            milestones.fileDone()
        }

        try context.write(Data((records.map { $0 + "\n" }.joined()).utf8), to: output + "/RECORDS")
        try context.write(Data(SHA256SumList.lines(files).utf8), to: output + "/SHA256SUMS")
        let seconds = progress.elapsed
        let rate =
            seconds > 0 ? ", \(TransferProgress.bytes(Int64(Double(progress.transferredBytes) / seconds)))/s" : ""
        context.log(
            "fetched \(records.count) records, \(files.count) files, \(TransferProgress.bytes(progress.finishedBytes)),"
                + " all SHA-256 verified (\(String(format: "%.1f", seconds)) s\(rate))")
    }

    /// The source text and where it came from: `PIPE_MITDB_SOURCE`, the `source` param, or the default.
    func sourceSetting(_ params: ResolvedParams) -> (text: String, origin: String) {
        let environment = self.environment ?? ProcessInfo.processInfo.environment
        if let value = environment[Self.sourceEnvironmentVariable], !value.isEmpty {
            return (value, "from \(Self.sourceEnvironmentVariable), which overrides the source param")
        }
        if let node = params.node("source"), !YAMLScalar.isNull(node), let text = node.scalar?.string, !text.isEmpty {
            return (text, "from the source param")
        }
        return (Self.defaultSource, "the default source")
    }

    private func makeSource(_ text: String, workspace: URL) throws -> DatabaseSource {
        let lowered = text.lowercased()
        if lowered.hasPrefix("http://") || lowered.hasPrefix("https://") {
            guard let parsed = URL(string: text.hasSuffix("/") ? text : text + "/"), parsed.host != nil else {
                throw FetchError.badParam(key: "source", problem: "'\(text)' is not a valid URL")
            }
            let partials = PhysioNetHTTPSource.partialDirectory(
                for: parsed, under: workspace.appendingPathComponent(".cache/downloads"))
            return PhysioNetHTTPSource(
                base: parsed, partialDirectory: partials,
                client: HTTPClient(timeout: timeout, userAgent: "pipe-ecg-fetch/1"), attempts: attempts,
                retryDelay: retryDelay)
        }
        var path = text
        if lowered.hasPrefix("file://") { path = URL(string: text)?.path ?? String(text.dropFirst(7)) }
        let directory =
            path.hasPrefix("/")
            ? URL(fileURLWithPath: path) : workspace.appendingPathComponent(path)
        guard FileStat.at(directory.path, followingSymlinks: true)?.kind == .directory else {
            throw FetchError.badParam(
                key: "source", problem: "'\(text)' is neither an http(s) URL nor a directory (\(directory.path))")
        }
        return LocalDirectorySource(directory: directory.standardizedFileURL)
    }

    /// `SHA256SUMS.txt` (PhysioNet's name), else `SHA256SUMS`.
    private func sumList(_ source: DatabaseSource, log: (String) -> Void) throws -> SHA256SumList {
        for name in ["SHA256SUMS.txt", "SHA256SUMS"] {
            if let data = try source.index(name, log: log) {
                return try SHA256SumList(parsing: data, origin: source.location(of: name))
            }
        }
        throw FetchError.missingIndex(file: "SHA256SUMS.txt or SHA256SUMS", source: source.description)
    }

    private func selectedRecords(_ params: ResolvedParams, available: [String], list: String) throws -> [String] {
        guard let node = params.node("records"), !YAMLScalar.isNull(node), node.scalar?.string != "all" else {
            return available
        }
        let requested = try strings(node, key: "records")
        let known = Set(available)
        for record in requested where !known.contains(record) {
            throw FetchError.unknownRecord(record: record, list: list)
        }
        return requested
    }

    private func selectedExtensions(_ params: ResolvedParams) throws -> [String] {
        guard let node = params.node("extensions"), !YAMLScalar.isNull(node) else { return Self.defaultExtensions }
        let values = try strings(node, key: "extensions").map { $0.hasPrefix(".") ? String($0.dropFirst()) : $0 }
        guard !values.isEmpty else { throw FetchError.badParam(key: "extensions", problem: "an empty list") }
        for value in values where value.isEmpty || value.contains("/") {
            throw FetchError.badParam(key: "extensions", problem: "'\(value)' is not a file extension")
        }
        return values
    }

    /// A scalar or a list of scalars, as strings (`[100, 101]` reads as `["100", "101"]`).
    private func strings(_ node: Node, key: String) throws -> [String] {
        if let scalar = node.scalar { return [scalar.string] }
        guard case .sequence(let items) = node else {
            throw FetchError.badParam(key: key, problem: "expected a list of names")
        }
        return try items.map { item in
            guard let text = item.scalar?.string, !text.isEmpty else {
                throw FetchError.badParam(key: key, problem: "expected a list of names")
            }
            return text
        }
    }
}

/// Logs a line at each quarter of the files fetched, so that a run without a terminal shows progress too.
private final class MilestoneLog: @unchecked Sendable {
    private let total: Int
    private let progress: TransferProgress
    private let log: (String) -> Void
    private let lock = NSLock()
    private var done = 0

    init(total: Int, progress: TransferProgress, log: @escaping (String) -> Void) {
        self.total = total
        self.progress = progress
        self.log = log
    }

    func fileDone() {
        lock.lock()
        done += 1
        let count = done
        lock.unlock()
        guard count < total, (count * 4) / total > ((count - 1) * 4) / total else { return }
        log(
            "\(count) of \(total) files verified (\(count * 100 / total) %), \(TransferProgress.bytes(progress.finishedBytes))"
        )
    }
}

/// Calls `body` for 0..<count on `workers` threads (the caller's among them); stops handing out work after
/// the first failure and rethrows the failure of the lowest index, so that the error does not depend on timing.
private func runConcurrently(_ count: Int, workers: Int, _ body: @escaping (Int) throws -> Void) throws {
    let state = WorkQueueState()
    let work: @Sendable () -> Void = {
        while let index = state.next(limit: count) {
            do { try body(index) } catch { state.fail(index, error) }
        }
    }
    let threads = min(workers, count)
    if threads > 1 {
        let group = DispatchGroup()
        for _ in 1..<threads {
            group.enter()
            let thread = Thread {
                work()
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        work()
        group.wait()
    } else {
        work()
    }
    if let error = state.firstError { throw error }
}

private final class WorkQueueState: @unchecked Sendable {
    private let lock = NSLock()
    private var nextIndex = 0
    private var failures: [(index: Int, error: Error)] = []

    func next(limit: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard failures.isEmpty, nextIndex < limit else { return nil }
        nextIndex += 1
        return nextIndex - 1
    }

    func fail(_ index: Int, _ error: Error) {
        lock.lock()
        failures.append((index, error))
        lock.unlock()
    }

    var firstError: Error? {
        lock.lock()
        defer { lock.unlock() }
        return failures.min { $0.index < $1.index }?.error
    }
}
