import ContentStore
import Foundation

/// One output the lock records, with its stage: what push, fetch and checkout move.
public struct StageOutputRecord: Sendable, Equatable {
    public var stage: String
    public var output: LockedOutput

    public init(stage: String, output: LockedOutput) {
        self.stage = stage
        self.output = output
    }
}

/// What `checkout` did to each output.
public struct CheckoutSummary: Sendable {
    /// Outputs put back from the cache (they were missing or differed).
    public var restored: [String] = []
    public var upToDate = 0
    /// Outputs whose objects are not in the cache: left as they are.
    public var missing: [String] = []
    /// Outputs whose workspace copy differs from the lock and exists nowhere else (not in the cache): left as
    /// they are unless forced, so that a pull never destroys work.
    public var keptModified: [String] = []

    public init() {}
}

extension Workspace {
    /// The outputs `pipeline.lock` records for the named stages (all when empty), in pipeline order.
    public func lockedOutputs(targets: [String] = []) throws -> [StageOutputRecord] {
        let lock = try loadLock()
        let order = (try? loadGraph().order) ?? lock.stages.keys.sorted()
        for target in targets where lock.stages[target] == nil {
            throw PipelineError.unknownStage(name: target, known: order.filter { lock.stages[$0] != nil })
        }
        let names = (order + lock.stages.keys.sorted().filter { !order.contains($0) })
            .filter { targets.isEmpty || targets.contains($0) }
        return names.flatMap { name in
            (lock.stages[name]?.outputs ?? []).map { StageOutputRecord(stage: name, output: $0) }
        }
    }

    /// Runs `body` holding the workspace lock that `repro` takes (never waiting: a repro in progress is named).
    public func withWorkspaceLock<T>(_ description: String, _ body: () throws -> T) throws -> T {
        let lock = WorkspaceLock(cacheDirectory: cacheDirectory)
        try lock.acquire(wait: false, description: description)
        defer { lock.release() }
        return try body()
    }

    /// Puts each recorded output back from the cache where the workspace's copy is missing or differs, as
    /// `pipe pull` does after fetching. A differing copy is replaced only when the cache holds it too (it can be
    /// got back) or with `force`. The caller holds the workspace lock.
    public func checkout(_ records: [StageOutputRecord], force: Bool = false) throws -> CheckoutSummary {
        let store = ObjectStore(cacheDirectory: cacheDirectory)
        let statCache = StatCache(loading: cacheDirectory.appendingPathComponent("stat-cache"))
        let hasher = ContentHasher(root: root, statCache: statCache)
        let linkMode = (try? loadGraph().definition.linkMode) ?? .reflink
        var summary = CheckoutSummary()
        for record in records {
            let output = record.output
            let absolute = root.appendingPathComponent(output.path).path
            if FileStat.at(absolute, followingSymlinks: true) != nil {
                let current = try? hasher.hash([output.path])[output.path]
                if let current, current.digest == output.digest {
                    summary.upToDate += 1
                    continue
                }
                let recoverable = current.map { store.canRestore($0.digest, isDirectory: $0.isDirectory) } ?? false
                if !recoverable && !force {
                    summary.keptModified.append(output.path)
                    continue
                }
            }
            guard store.canRestore(output.digest, isDirectory: output.isDirectory) else {
                summary.missing.append(output.path)
                continue
            }
            try store.checkout(output.digest, isDirectory: output.isDirectory, to: absolute, mode: linkMode)
            rememberRestored(output, store: store, hasher: hasher)
            summary.restored.append(output.path)
        }
        try? statCache.save()
        return summary
    }

    /// Records the stats of what was just restored with the digests the cache already verified, instead of
    /// reading every file again, so that a later status need not read them either.
    private func rememberRestored(_ output: LockedOutput, store: ObjectStore, hasher: ContentHasher) {
        // Paths joined as strings: `appendingPathComponent` without `isDirectory:` stats each one to decide.
        let base = root.path + "/"
        guard output.isDirectory else {
            if let stat = FileStat.at(base + output.path) {
                hasher.remember(path: output.path, stat: stat, digest: output.digest)
            }
            return
        }
        guard let manifest = try? store.loadManifest(output.digest) else { return }
        for entry in manifest.entries {
            guard case .file = entry.kind else { continue }
            let path = output.path + "/" + entry.relativePath
            if let stat = FileStat.at(base + path) {
                hasher.remember(path: path, stat: stat, digest: entry.digest)
            }
        }
    }
}
