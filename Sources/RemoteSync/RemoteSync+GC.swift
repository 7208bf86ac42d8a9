import ContentStore
import Foundation
import PipelineEngine
import RemoteStorage

#if canImport(Glibc)
import Glibc
#endif

/// What `pipe gc` keeps and where it removes.
public struct GCOptions: Sendable {
    /// Keep what any commit's lock names, not only the workspace's.
    public var allCommits = false
    /// Also remove run-cache entries that no kept lock's stage signature names (and so their objects).
    public var runCache = false
    /// List what would be removed; remove nothing.
    public var dryRun = false
    /// Collect on this remote instead of `.cache/` (the command demands `--force` for it).
    public var remoteName: String?

    public init() {}
}

public struct GCSummary: Sendable {
    public var removedObjects: [String] = []
    public var removedRunCacheEntries: [String] = []
    public var removedBytes: Int64 = 0
    public var keptObjects = 0
}

extension RemoteSync {
    /// Removes the cache objects (and with `runCache`, the run-cache entries) that nothing kept refers to.
    /// Locally it takes the workspace lock, so it never runs while a repro does.
    public func gc(_ options: GCOptions) throws -> GCSummary {
        let roots = try roots(SyncOptions(allCommits: options.allCommits))
        let keptSignatures = try keptSignatures(allCommits: options.allCommits)
        if let name = options.remoteName {
            return try remoteGC(options, remote: try openRemote(name).storage, roots: roots, signatures: keptSignatures)
        }
        return try workspace.withWorkspaceLock("pipe gc") {
            let store = ObjectStore(cacheDirectory: workspace.cacheDirectory)
            let runCache = RunCache(cacheDirectory: workspace.cacheDirectory)
            var summary = GCSummary()
            var liveRoots = roots
            var removedEntries: [Digest] = []
            for signature in runCache.allSignatures() {
                if options.runCache, !keptSignatures.contains(signature) {
                    removedEntries.append(signature)
                } else if let outputs = try? runCache.lookup(signature: signature) {
                    liveRoots += outputs.map { Root(label: $0.path, digest: $0.digest, isDirectory: $0.isDirectory) }
                }
            }
            var live = Set<Digest>()
            for root in liveRoots {
                live.insert(root.digest)
                if root.isDirectory, let manifest = try? store.loadManifest(root.digest) {
                    live.formUnion(manifest.entries.map(\.digest))
                }
            }
            for digest in store.allObjects() {
                guard !live.contains(digest) else {
                    summary.keptObjects += 1
                    continue
                }
                summary.removedBytes += FileStat.at(store.objectURL(digest).path)?.size ?? 0
                summary.removedObjects.append(digest.hex)
                if !options.dryRun { try store.remove(digest) }
            }
            for signature in removedEntries {
                summary.removedRunCacheEntries.append(signature.hex)
                if !options.dryRun { runCache.remove(signature) }
            }
            if !options.dryRun { store.removeTemporaryFiles() }
            return summary
        }
    }

    /// The stage signatures of the lock (or of every commit's lock): their run-cache entries are always kept.
    private func keptSignatures(allCommits: Bool) throws -> Set<Digest> {
        var signatures = Set(try workspace.loadLock().stages.values.map(\.signature))
        if allCommits {
            for lock in try historicalLocks() {
                signatures.formUnion(lock.stages.values.map(\.signature))
            }
        }
        return signatures
    }

    private func remoteGC(
        _ options: GCOptions, remote: RemoteStorage, roots: [Root], signatures: Set<Digest>
    ) throws -> GCSummary {
        var summary = GCSummary()
        let objectKeys = try remote.list(prefix: RemoteKey.objectsPrefix)
        let entryKeys = try remote.list(prefix: RemoteKey.runCachePrefix)
        var liveRoots = roots
        var removedEntries: [String] = []
        for key in entryKeys.sorted() {
            guard let signature = RemoteKey.digest(of: key, prefix: RemoteKey.runCachePrefix) else { continue }
            if options.runCache, !signatures.contains(signature) {
                removedEntries.append(key)
                continue
            }
            let outputs = try readRemote(key, from: remote) { try RunCache.parse($0, path: key) }
            liveRoots += outputs.map { Root(label: $0.path, digest: $0.digest, isDirectory: $0.isDirectory) }
        }
        var live = Set<String>()
        let store = ObjectStore(cacheDirectory: workspace.cacheDirectory)
        for root in liveRoots {
            let key = RemoteKey.object(root.digest)
            live.insert(key)
            guard root.isDirectory, objectKeys.contains(key) else { continue }
            let manifest =
                try (try? store.loadManifest(root.digest))
                ?? readRemote(key, from: remote) { try DirectoryManifest.parse($0, path: key) }
            for entry in manifest.entries { live.insert(RemoteKey.object(entry.digest)) }
        }
        let doomed = objectKeys.filter { !live.contains($0) }.sorted()
        summary.keptObjects = objectKeys.count - doomed.count
        summary.removedObjects = doomed
        summary.removedRunCacheEntries = removedEntries
        if !options.dryRun {
            try remote.delete(removedEntries)
            try remote.delete(doomed)
            // Temporaries of pushes killed more than an hour ago (a push in progress keeps its own young ones).
            if let directory = remote as? DirectoryRemote {
                for path in directory.staleTemporaryFiles(olderThan: 3600) { unlink(path) }
            }
        }
        return summary
    }

    /// A small remote object (a manifest, a run-cache entry), read and parsed.
    private func readRemote<T>(_ key: String, from remote: RemoteStorage, parse: (Data) throws -> T) throws -> T {
        let temporary = try ObjectStore(cacheDirectory: workspace.cacheDirectory).temporaryFileURL()
        defer { unlink(temporary.path) }
        guard try remote.get(key, to: temporary.path, onBytes: nil) != nil else {
            throw RemoteError.missingObject(remote: remote.location, key: key)
        }
        do {
            return try parse(try Data(contentsOf: temporary))
        } catch {
            throw RemoteError.malformedObject(remote: remote.location, key: key, reason: "cannot be read: \(error)")
        }
    }
}
