import ContentStore
import Foundation
import PipelineEngine
import RemoteStorage
import Tracking
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// What push, fetch, pull and `status --remote` act on.
public struct SyncOptions: Sendable {
    /// Stages whose outputs move (all when empty).
    public var targets: [String]
    /// A remote of `pipeline.yaml`; nil is `default_remote` (or the only remote).
    public var remoteName: String?
    /// Transfers at once; nil picks a default per remote kind.
    public var jobs: Int?
    /// Also move run-cache entries and the objects they name.
    public var runCache: Bool
    /// The outputs of `pipeline.lock` at every commit of every branch and tag, not only the workspace's.
    public var allCommits: Bool

    public init(
        targets: [String] = [], remoteName: String? = nil, jobs: Int? = nil, runCache: Bool = false,
        allCommits: Bool = false
    ) {
        self.targets = targets
        self.remoteName = remoteName
        self.jobs = jobs
        self.runCache = runCache
        self.allCommits = allCommits
    }
}

/// What a push or fetch moved: the command prints it as one line.
public struct TransferSummary: Sendable {
    public var transferredObjects = 0
    public var transferredBytes: Int64 = 0
    public var alreadyThere = 0
    public var runCacheEntries = 0
    /// Outputs that could not be moved because the source side lacks them (`path (stage)`).
    public var missing: [String] = []
    public var seconds: TimeInterval = 0
}

/// Where one output stands between the workspace's cache and a remote.
public enum OutputSyncState: String, Sendable, Codable {
    case inSync = "in sync"
    case missingOnRemote = "missing on the remote"
    case missingLocally = "missing locally"
    case missingEverywhere = "missing everywhere"
}

public struct OutputSyncStatus: Sendable, Codable {
    public var stage: String
    public var path: String
    public var hash: String
    public var state: OutputSyncState
}

/// Push, fetch, pull, `status --remote` and gc over a workspace's lock and its remotes. The commands make one
/// call each into this type; it knows the cache layout and the lock, never the remote's protocol.
public final class RemoteSync {
    public let workspace: Workspace
    private let environment: [String: String]
    private let store: ObjectStore
    private let runCache: RunCache
    /// Keys checked one HEAD each when there are at most this many; more are answered by one listing.
    static let headLimit = 64

    public init(workspace: Workspace, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.workspace = workspace
        self.environment = environment
        store = ObjectStore(cacheDirectory: workspace.cacheDirectory)
        runCache = RunCache(cacheDirectory: workspace.cacheDirectory)
    }

    // MARK: - Remotes

    /// The remote named (or the default one), opened: credentials resolved, a directory checked to exist.
    public func openRemote(_ name: String?) throws -> (definition: RemoteDefinition, storage: RemoteStorage) {
        let definition = try workspace.loadGraph().definition
        let chosen: String
        if let name {
            chosen = name
        } else if let fallback = definition.defaultRemote
            ?? (definition.remotes.count == 1 ? definition.remotes.first?.name : nil)
        {
            chosen = fallback
        } else {
            let known = definition.remotes.map(\.name)
            throw RemoteError.badConfiguration(
                known.isEmpty
                    ? "no remote is configured: add one with `pipe remote add NAME URL --default`"
                    : "several remotes and no default_remote in pipeline.yaml: give -r NAME (one of \(known.joined(separator: ", ")))"
            )
        }
        guard let remote = definition.remote(named: chosen) else {
            throw PipelineError.unknownRemote(nil, name: chosen, known: definition.remotes.map(\.name))
        }
        return (remote, try open(remote))
    }

    private func open(_ remote: RemoteDefinition) throws -> RemoteStorage {
        if remote.isS3 {
            return try S3Remote.make(
                url: remote.url, endpoint: remote.endpoint, region: remote.region, environment: environment,
                client: HTTPClient(timeout: 60, userAgent: "pipe/\(Self.version)"))
        }
        var path = remote.url
        if path.lowercased().hasPrefix("file://") { path = String(path.dropFirst(7)) }
        if path.hasPrefix("~/") { path = NSHomeDirectory() + path.dropFirst(1) }
        let root = path.hasPrefix("/") ? URL(fileURLWithPath: path) : workspace.root.appendingPathComponent(path)
        return try DirectoryRemote(root: root, location: remote.url)
    }

    static let version = "0.1.0"

    private func jobs(_ options: SyncOptions, remote: RemoteDefinition) -> Int {
        if let jobs = options.jobs { return max(1, jobs) }
        // Network transfers wait on the server, not the CPU; a directory is bounded by the disk.
        return 16
    }

    // MARK: - Roots

    /// An output to move, with every object it needs (a directory: its files, then its manifest).
    struct Root {
        var label: String
        var digest: Digest
        var isDirectory: Bool
    }

    /// The lock's outputs (or every commit's), one root per distinct hash.
    func roots(_ options: SyncOptions) throws -> [Root] {
        var records = try workspace.lockedOutputs(targets: options.targets)
        if options.allCommits {
            for lock in try historicalLocks() {
                for (stage, entry) in lock.stages where options.targets.isEmpty || options.targets.contains(stage) {
                    records += entry.outputs.map { StageOutputRecord(stage: stage, output: $0) }
                }
            }
        }
        var seen = Set<Digest>()
        return records.compactMap { record in
            guard seen.insert(record.output.digest).inserted else { return nil }
            return Root(
                label: "\(record.output.path) (\(record.stage))", digest: record.output.digest,
                isDirectory: record.output.isDirectory)
        }
    }

    /// `pipeline.lock` as every commit of every branch and tag has it (distinct versions only).
    func historicalLocks() throws -> [LockFile] {
        try GitHistory.versions(of: "pipeline.lock", workspace: workspace.root).map { version in
            try LockFile.parse(version.data, display: "pipeline.lock at commit \(version.commit.prefix(8))")
        }
    }

    /// The run-cache entries' outputs as roots (for `--run-cache`), with the signatures they came from.
    private func localRunCacheRoots() -> (signatures: [Digest], roots: [Root]) {
        var signatures: [Digest] = []
        var roots: [Root] = []
        for signature in runCache.allSignatures() {
            guard let outputs = try? runCache.lookup(signature: signature),
                outputs.allSatisfy({ store.canRestore($0.digest, isDirectory: $0.isDirectory) })
            else { continue }
            signatures.append(signature)
            roots += outputs.map {
                Root(label: "\($0.path) (run-cache)", digest: $0.digest, isDirectory: $0.isDirectory)
            }
        }
        return (signatures, roots)
    }

    // MARK: - Push

    /// Uploads the objects of the lock's outputs that the remote lacks: files first, each directory's manifest
    /// only after all its files, so a manifest on the remote means its directory is complete there.
    public func push(_ options: SyncOptions, progress: SyncProgress) throws -> TransferSummary {
        let (definition, remote) = try openRemote(options.remoteName)
        let jobs = jobs(options, remote: definition)
        var summary = TransferSummary()
        var roots = try roots(options)
        var signatures: [Digest] = []
        if options.runCache {
            let local = localRunCacheRoots()
            signatures = local.signatures
            roots += local.roots
        }
        var seen = Set<Digest>()
        roots = roots.filter { seen.insert($0.digest).inserted }

        var files: [Digest] = []
        var manifests: [(digest: Digest, entries: [Digest])] = []
        for root in roots {
            if root.isDirectory {
                guard let manifest = try? store.loadManifest(root.digest),
                    store.containsAll(manifest.entries.lazy.map(\.digest))
                else {
                    summary.missing.append(root.label)
                    continue
                }
                manifests.append((root.digest, manifest.entries.map(\.digest)))
            } else if store.contains(root.digest) {
                files.append(root.digest)
            } else {
                summary.missing.append(root.label)
            }
        }

        var listing: Set<String>?
        let topKeys = files.map(RemoteKey.object) + manifests.map { RemoteKey.object($0.digest) }
        let present = try presentKeys(topKeys, on: remote, listing: &listing, jobs: jobs)
        let absentManifests = manifests.filter { !present.contains(RemoteKey.object($0.digest)) }
        var uploads = Set(files.filter { !present.contains(RemoteKey.object($0)) })
        var entryKeys = Set<String>()
        for manifest in absentManifests { for entry in manifest.entries { entryKeys.insert(RemoteKey.object(entry)) } }
        let presentEntries = try presentKeys(Array(entryKeys), on: remote, listing: &listing, jobs: jobs)
        for manifest in absentManifests {
            for entry in manifest.entries where !presentEntries.contains(RemoteKey.object(entry)) {
                uploads.insert(entry)
            }
        }
        let totalObjects = Set(files + manifests.map(\.digest) + manifests.flatMap(\.entries)).count
        let firstWave = uploads.sorted()
        let secondWave = absentManifests.map(\.digest).filter { !uploads.contains($0) }
        summary.alreadyThere = totalObjects - firstWave.count - secondWave.count
        let waveBytes = (firstWave + secondWave).reduce(Int64(0)) {
            $0 + (FileStat.at(store.objectURL($1).path)?.size ?? 0)
        }
        progress.expect(objects: firstWave.count + secondWave.count, bytes: waveBytes)
        for wave in [firstWave, secondWave] {
            do {
                try upload(wave, to: remote, jobs: jobs, progress: progress)
            } catch {
                try? remote.commit()  // what did arrive stays: the next push moves only the rest
                throw error
            }
            try remote.commit()
        }
        summary.transferredObjects = firstWave.count + secondWave.count
        summary.transferredBytes = waveBytes

        if options.runCache, !signatures.isEmpty {
            let remoteEntries = try remote.list(prefix: RemoteKey.runCachePrefix)
            let missing = signatures.filter { !remoteEntries.contains(RemoteKey.runCacheEntry($0)) }
            try runConcurrently(count: missing.count, jobs: jobs) { [runCache] index in
                let path = runCache.entryPath(missing[index])
                let data = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
                try remote.put(
                    RemoteKey.runCacheEntry(missing[index]), file: path, size: Int64(data.count),
                    sha256: Digest.of(data), onBytes: nil)
            }
            try remote.commit()
            summary.runCacheEntries = missing.count
        }
        summary.seconds = progress.elapsed
        return summary
    }

    private func upload(_ digests: [Digest], to remote: RemoteStorage, jobs: Int, progress: SyncProgress) throws {
        let store = self.store
        try runConcurrently(count: digests.count, jobs: jobs) { index in
            let digest = digests[index]
            let path = store.objectURL(digest).path
            guard let stat = FileStat.at(path) else {
                throw RemoteError.localFile(path: path, reason: "the cache object disappeared during the push")
            }
            try remote.put(
                RemoteKey.object(digest), file: path, size: stat.size, sha256: digest,
                onBytes: { progress.transferred($0) })
            progress.objectDone()
        }
    }

    /// Which of `keys` exist on the remote: one HEAD each when few, else one listing of `objects/` (kept in
    /// `listing` for the next question).
    private func presentKeys(
        _ keys: [String], on remote: RemoteStorage, listing: inout Set<String>?, jobs: Int
    ) throws -> Set<String> {
        guard !keys.isEmpty else { return [] }
        if listing == nil, keys.count <= Self.headLimit {
            let found = ConcurrentSet()
            try runConcurrently(count: keys.count, jobs: jobs) { index in
                if try remote.exists(keys[index]) { found.insert(keys[index]) }
            }
            return found.values
        }
        let all = try listing ?? remote.list(prefix: RemoteKey.objectsPrefix)
        listing = all
        return Set(keys.filter { all.contains($0) })
    }

    // MARK: - Fetch and pull

    /// Downloads the objects of the lock's outputs that `.cache/` lacks. Each is hashed while written to
    /// `.cache/tmp/` and enters the store only when the hash is its key; a directory's manifest enters last.
    public func fetch(_ options: SyncOptions, progress: SyncProgress) throws -> TransferSummary {
        let (definition, remote) = try openRemote(options.remoteName)
        let jobs = jobs(options, remote: definition)
        var summary = TransferSummary()
        var roots = try roots(options)
        var entriesToInstall: [(signature: Digest, data: Data)] = []
        if options.runCache {
            let fetched = try fetchRunCacheEntries(from: remote, definition: definition, jobs: jobs)
            entriesToInstall = fetched.entries
            roots += fetched.roots
        }
        var seen = Set<Digest>()
        roots = roots.filter { seen.insert($0.digest).inserted }

        var downloads = Set<Digest>()
        var pendingManifests: [(digest: Digest, temporary: URL?)] = []
        var manifestDownloads: [Digest] = []
        var total = 0
        for root in roots {
            if !root.isDirectory {
                total += 1
                if !store.contains(root.digest) { downloads.insert(root.digest) }
            } else if store.canRestore(root.digest, isDirectory: true) {
                total += 1 + ((try? store.loadManifest(root.digest).entries.count) ?? 0)
            } else if store.contains(root.digest) {
                pendingManifests.append((root.digest, nil))
            } else {
                manifestDownloads.append(root.digest)
            }
        }
        // Manifests first (small): they say which files a directory needs.
        let fetchedManifests = try download(
            manifestDownloads, from: remote, jobs: jobs, progress: progress, adopt: false)
        for digest in manifestDownloads {
            guard let temporary = fetchedManifests[digest] else {
                summary.missing.append(label(for: digest, in: roots))
                continue
            }
            pendingManifests.append((digest, temporary))
        }
        defer { for manifest in pendingManifests { if let url = manifest.temporary { unlink(url.path) } } }
        var manifestTexts: [Digest: DirectoryManifest] = [:]
        for manifest in pendingManifests {
            let parsed: DirectoryManifest
            if let temporary = manifest.temporary {
                do {
                    parsed = try DirectoryManifest.parse(try Data(contentsOf: temporary), path: temporary.path)
                } catch {
                    throw RemoteError.malformedObject(
                        remote: remote.location, key: RemoteKey.object(manifest.digest),
                        reason: "is not a directory manifest: \(error)")
                }
            } else {
                parsed = try store.loadManifest(manifest.digest)
            }
            manifestTexts[manifest.digest] = parsed
            total += 1 + parsed.entries.count
            downloads.formUnion(store.missing(from: parsed.entries.lazy.map(\.digest)))
        }
        let fileList = downloads.sorted()
        let fetchedFiles = try download(fileList, from: remote, jobs: jobs, progress: progress, adopt: true)
        for digest in fileList where fetchedFiles[digest] == nil {
            summary.missing.append(label(for: digest, in: roots))
        }
        // The downloads were not flushed one by one (a journal commit each); one sync makes them durable before
        // any manifest or run-cache entry names them. A file cut by a power loss before this is caught anyway:
        // every object is hashed again when it is checked out.
        if fetchedFiles.copied > 0 || !fetchedManifests.files.isEmpty { Glibc.sync() }
        // A manifest enters the store only with all its files there, as on the remote.
        for manifest in pendingManifests {
            guard let temporary = manifest.temporary, let parsed = manifestTexts[manifest.digest],
                store.containsAll(parsed.entries.lazy.map(\.digest))
            else { continue }
            try store.adopt(temporary, digest: manifest.digest)
        }
        if summary.missing.isEmpty {
            for entry in entriesToInstall {
                try runCache.install(
                    entry.data, signature: entry.signature,
                    origin: "\(remote.location)/\(RemoteKey.runCacheEntry(entry.signature))")
            }
            summary.runCacheEntries = entriesToInstall.count
        }
        summary.transferredObjects = fetchedFiles.files.count + fetchedManifests.files.count
        summary.transferredBytes = progress.bytes
        summary.alreadyThere = max(0, total - summary.transferredObjects - summary.missing.count)
        summary.seconds = progress.elapsed
        return summary
    }

    /// Fetch, then put every output of the selected stages in place (only when every object arrived).
    public func pull(
        _ options: SyncOptions, force: Bool = false, progress: SyncProgress
    ) throws -> (TransferSummary, CheckoutSummary) {
        try workspace.withWorkspaceLock("pipe pull") {
            store.removeTemporaryFiles()
            let summary = try fetch(options, progress: progress)
            guard summary.missing.isEmpty else { return (summary, CheckoutSummary()) }
            let checkout = try workspace.checkout(
                try workspace.lockedOutputs(targets: options.targets), force: force)
            return (summary, checkout)
        }
    }

    /// Downloads objects in parallel into `.cache/tmp/`, verifying each; `adopt` moves the verified file into
    /// the store, else its temporary URL is returned for the caller to adopt later. Absent objects are left
    /// out of the result; a corrupt one is an error, and its bytes are deleted.
    private func download(
        _ digests: [Digest], from remote: RemoteStorage, jobs: Int, progress: SyncProgress, adopt: Bool
    ) throws -> Downloads {
        let store = self.store
        let results = ConcurrentMap<Digest, URL>()
        let linked = ConcurrentSet()
        progress.expect(objects: digests.count, bytes: 0)
        try runConcurrently(count: digests.count, jobs: jobs) { index in
            let digest = digests[index]
            let key = RemoteKey.object(digest)
            if adopt, try Self.linkIn(digest, from: remote, into: store, progress: progress) {
                results.set(digest, store.objectURL(digest))
                linked.insert(digest.hex)
                progress.objectDone()
                return
            }
            let temporary = try store.temporaryFileURL()
            let actual: Digest?
            do {
                actual = try remote.get(key, to: temporary.path, onBytes: { progress.transferred($0) })
            } catch {
                unlink(temporary.path)
                throw error
            }
            guard let actual else {
                unlink(temporary.path)
                return
            }
            guard actual == digest else {
                unlink(temporary.path)
                throw RemoteError.corruptObject(remote: remote.location, key: key, actual: actual.hex)
            }
            if adopt { try store.adopt(temporary, digest: digest) }
            results.set(digest, temporary)
            progress.objectDone()
        }
        return Downloads(files: results.values, linked: linked.values.count)
    }

    /// What `download` got: each object's file, and how many of them are hard links (durable already).
    private struct Downloads {
        var files: [Digest: URL]
        var linked: Int
        var copied: Int { files.count - linked }
        subscript(digest: Digest) -> URL? { files[digest] }
    }

    /// A directory remote on the cache's file system hands over the object as a hard link (checked first);
    /// false when it cannot, and the object is copied.
    private static func linkIn(
        _ digest: Digest, from remote: RemoteStorage, into store: ObjectStore, progress: SyncProgress
    ) throws -> Bool {
        var size: Int64 = 0
        let linked = try store.insert(digest) { path in
            guard case .linked(let linkedSize) = try remote.link(RemoteKey.object(digest), to: path, digest: digest)
            else { return false }
            size = linkedSize
            return true
        }
        if linked { progress.transferred(Int(size)) }
        return linked
    }

    private func fetchRunCacheEntries(
        from remote: RemoteStorage, definition: RemoteDefinition, jobs: Int
    ) throws -> (entries: [(signature: Digest, data: Data)], roots: [Root]) {
        let keys = try remote.list(prefix: RemoteKey.runCachePrefix)
        let signatures = keys.compactMap { RemoteKey.digest(of: $0, prefix: RemoteKey.runCachePrefix) }
            .filter { [runCache] in FileStat.at(runCache.entryPath($0)) == nil }
        let store = self.store
        let fetched = ConcurrentMap<Digest, Data>()
        try runConcurrently(count: signatures.count, jobs: jobs) { index in
            let key = RemoteKey.runCacheEntry(signatures[index])
            let temporary = try store.temporaryFileURL()
            defer { unlink(temporary.path) }
            guard try remote.get(key, to: temporary.path, onBytes: nil) != nil else { return }
            let data: Data
            do { data = try Data(contentsOf: temporary) } catch {
                throw RemoteError.localFile(path: temporary.path, reason: "\(error)")
            }
            fetched.set(signatures[index], data)
        }
        var entries: [(Digest, Data)] = []
        var roots: [Root] = []
        for (signature, data) in fetched.values.sorted(by: { $0.key < $1.key }) {
            let outputs: [CachedOutput]
            do {
                outputs = try RunCache.parse(data, path: RemoteKey.runCacheEntry(signature))
            } catch {
                throw RemoteError.malformedObject(
                    remote: remote.location, key: RemoteKey.runCacheEntry(signature), reason: "\(error)")
            }
            entries.append((signature, data))
            roots += outputs.map {
                Root(label: "\($0.path) (run-cache)", digest: $0.digest, isDirectory: $0.isDirectory)
            }
        }
        return (entries, roots)
    }

    private func label(for digest: Digest, in roots: [Root]) -> String {
        roots.first { $0.digest == digest }?.label ?? RemoteKey.object(digest)
    }

    // MARK: - Status

    /// Per stage and output: whether the workspace's cache and the remote each hold it.
    public func status(_ options: SyncOptions) throws -> [OutputSyncStatus] {
        let (definition, remote) = try openRemote(options.remoteName)
        let records = try workspace.lockedOutputs(targets: options.targets)
        var listing: Set<String>?
        let keys = Array(Set(records.map { RemoteKey.object($0.output.digest) }))
        let present = try presentKeys(keys, on: remote, listing: &listing, jobs: jobs(options, remote: definition))
        return records.map { record in
            let local = store.canRestore(record.output.digest, isDirectory: record.output.isDirectory)
            let onRemote = present.contains(RemoteKey.object(record.output.digest))
            let state: OutputSyncState =
                switch (local, onRemote) {
                case (true, true): .inSync
                case (true, false): .missingOnRemote
                case (false, true): .missingLocally
                case (false, false): .missingEverywhere
                }
            return OutputSyncStatus(
                stage: record.stage, path: record.output.path, hash: record.output.digest.hex, state: state)
        }
    }
}

/// A set filled from several threads.
final class ConcurrentSet: @unchecked Sendable {
    private let lock = NSLock()
    private var storage = Set<String>()
    func insert(_ value: String) {
        lock.lock()
        storage.insert(value)
        lock.unlock()
    }
    var values: Set<String> {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}

/// A dictionary filled from several threads.
final class ConcurrentMap<Key: Hashable, Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Key: Value] = [:]
    func set(_ key: Key, _ value: Value) {
        lock.lock()
        storage[key] = value
        lock.unlock()
    }
    var values: [Key: Value] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}
