import Foundation
import GRDB
import GRDBSQLite

#if canImport(Glibc)
import Glibc
#endif

/// The run-tracking store: `runs/pipe.sqlite` (SQLite through GRDB, WAL mode) plus one folder per run, `runs/<id>/`.
///
/// Lifecycle: `beginRun` creates a `running` run; stages, params, metrics and artifacts are recorded as they happen,
/// each call in its own transaction so a crashed run keeps its partial history; `finishRun` closes it.
/// A run whose process died without finishing is marked `interrupted` the next time a store is opened.
///
/// Threading: a `RunStore` may be shared between threads; any number of processes may open the same store.
/// Readers never wait for writers (WAL); writers wait up to `busyTimeout` for each other.
public final class RunStore: Sendable {
    /// The store's file name inside `runs/`.
    public static let fileName = "pipe.sqlite"
    /// How long a writer waits for another before failing with `TrackingError.storeBusy`.
    public static let busyTimeout: TimeInterval = 5

    /// The workspace root (the folder holding `pipeline.yaml`, `runs/`, `.cache/`).
    public let workspace: URL
    /// `runs/` inside the workspace.
    public let runsFolder: URL
    /// `runs/pipe.sqlite`, or `:memory:` for an in-memory store.
    public let path: String
    let database: any DatabaseWriter
    /// `pipe.sqlite-writes`, raised after each write transaction; nil in memory.
    let tally: WriteTally?
    /// What a read-only open left undone: the store's connection cannot write.
    let pendingWrites: PendingWrites

    enum PendingWrites { case none, deadRuns, migrations }

    // MARK: Opening

    /// Opens (creating if needed) the store of `workspace`, migrates it, and marks dead runs interrupted.
    ///
    /// Throws `TrackingError.storeTooNew` for a store written by a newer pipe (left unmodified),
    /// `.storeCorrupt` for a file that is not a readable store, `.storeLostWrites` for one whose write-ahead log was
    /// deleted or damaged (see `WriteTally`), `.storeBusy` past the busy timeout. With `repair`, a corrupt store is
    /// moved aside (`pipe.sqlite.corrupt-<time>`) and a fresh one created, and a store that lost writes is accepted
    /// as it is (a damaged log kept as `pipe.sqlite-wal.damaged-<time>`).
    public static func open(workspace: URL, repair: Bool = false) throws -> RunStore {
        let runsFolder = workspace.appendingPathComponent("runs", isDirectory: true)
        let file = runsFolder.appendingPathComponent(fileName)
        do {
            try FileManager.default.createDirectory(at: runsFolder, withIntermediateDirectories: true)
        } catch {
            throw TrackingError.database(
                path: runsFolder.path, detail: "cannot create the runs folder: \(error.localizedDescription)")
        }
        return try whileHoldingOpenLock(runsFolder) {
            do {
                return try openExisting(workspace: workspace, file: file)
            } catch TrackingError.storeCorrupt(let path, let detail) where repair {
                _ = try moveAside(file: file, reason: detail, path: path)
                return try openExisting(workspace: workspace, file: file)
            } catch TrackingError.storeLostWrites(_, _, let found, let walDamaged) where repair {
                if walDamaged { try keepDamagedLog(of: file) }
                WriteTally(storePath: file.path).reset(to: found)
                return try openExisting(workspace: workspace, file: file)
            }
        }
    }

    /// The store for commands that only read it (`runs list`, `show`, `diff`, `report`): opened read-only, so that
    /// nothing is created or written on the way in and they work on a full disk or a read-only file system; a
    /// workspace without a store reads as an empty one. A store with dead runs to mark interrupted, or one that
    /// needs a migration, is opened for writing instead when it can be; when it cannot (a full disk), its dead runs
    /// are listed as `running` until a later command marks them.
    public static func openForReading(workspace: URL) throws -> RunStore {
        let file = workspace.appendingPathComponent("runs", isDirectory: true).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: file.path) else { return try inMemory(workspace: workspace) }
        let store = try openExisting(workspace: workspace, file: file, readOnly: true)
        switch store.pendingWrites {
        case .none: return store
        case .deadRuns: return (try? openExisting(workspace: workspace, file: file)) ?? store
        case .migrations: return try open(workspace: workspace)
        }
    }

    /// Runs `body` holding an exclusive `flock` on the runs folder, so that processes opening one store open
    /// it one after the other. Two creating a new store at once raced: GRDB reads which migrations are applied
    /// before it takes the write lock, and a new file turns to WAL apart from its first schema, so the slower
    /// failed with "table runs already exists", "no such table: runs" or busy (experiments of a fresh
    /// workspace start together). Opening takes milliseconds; the kernel drops the lock however a holder dies.
    private static func whileHoldingOpenLock<T>(_ runsFolder: URL, _ body: () throws -> T) throws -> T {
        let fd = Glibc.open(runsFolder.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return try body() }  // Best effort: the store's own locks still hold.
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        return try body()
    }

    /// A store in memory, for tests; its run folders go under `workspace/runs/`.
    public static func inMemory(workspace: URL) throws -> RunStore {
        var configuration = RunStore.configuration
        configuration.label = "pipe-runs-memory"
        let queue = try DatabaseQueue(configuration: configuration)
        try Schema.migrator.migrate(queue)
        return RunStore(workspace: workspace, path: ":memory:", database: queue)
    }

    /// Moves a store aside without deleting anything; returns where it went. Used by `--repair`.
    @discardableResult
    public static func moveAside(workspace: URL) throws -> URL? {
        let file = workspace.appendingPathComponent("runs", isDirectory: true).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        return try moveAside(file: file, reason: "repair requested", path: file.path)
    }

    private init(
        workspace: URL, path: String, database: any DatabaseWriter, pendingWrites: PendingWrites = .none
    ) {
        self.workspace = workspace
        self.pendingWrites = pendingWrites
        self.runsFolder = workspace.appendingPathComponent("runs", isDirectory: true)
        self.path = path
        self.database = database
        self.tally = path == ":memory:" ? nil : WriteTally(storePath: path)
    }

    private static var configuration: Configuration {
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.foreignKeysEnabled = true
        configuration.label = "pipe-runs"
        configuration.prepareDatabase { db in
            guard !db.configuration.readonly else { return }
            // WAL + NORMAL never corrupts; a power cut may lose the last transaction, which is acceptable here.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // The -wal and -shm files outlive the last connection: a damaged log stays for `open` to report (SQLite
            // would delete it on close), and a read-only connection (a full disk) finds the files it needs. An
            // in-memory store has no file to control (SQLITE_NOTFOUND).
            var persist: CInt = 1
            let code = sqlite3_file_control(db.sqliteConnection, nil, SQLITE_FCNTL_PERSIST_WAL, &persist)
            guard code == SQLITE_OK || code == SQLITE_NOTFOUND else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code))
            }
        }
        return configuration
    }

    /// Opens the store at `file` (creating it unless `readOnly`), after the checks that refuse a foreign, newer,
    /// damaged or cut-back store. Read-write: migrates it and marks dead runs interrupted. Read-only: writes
    /// nothing, and says in `pendingWrites` what it left undone.
    static func openExisting(workspace: URL, file: URL, readOnly: Bool = false) throws -> RunStore {
        let path = file.path
        let tally = WriteTally(storePath: path)
        // Read before the store: a writer raises it only after committing, so it never runs ahead of the store.
        var recordedWrites = tally.read()
        let walBytes = byteCount(ofFileAt: path + "-wal")
        var journal = HeaderFacts.Journal.none
        if FileManager.default.fileExists(atPath: path) {
            journal = try checkHeader(path: path).journal
            if journal == .rollback, !readOnly { try checkRollbackStore(path: path) }
        } else {
            tally.remove()  // A store deleted on purpose: the fresh one starts again from zero.
            recordedWrites = nil
        }
        let queue = try connect(path: path, readOnly: readOnly)
        let upToDate: Bool
        do {
            // Reads first: a newer or foreign store is refused before anything is written, and an up-to-date
            // store (the common case) never takes the write lock just to be opened.
            upToDate = try queue.read { db -> Bool in
                if journal != .none { try checkSchema(db, path: path) }
                if let recordedWrites {
                    try checkWriteCount(db, recorded: recordedWrites, walBytes: walBytes, path: path)
                }
                return try Schema.migrator.hasCompletedMigrations(db)
            }
            if !upToDate, !readOnly { try Schema.migrator.migrate(queue) }
        } catch {
            try? queue.close()
            throw translate(error, path: path)
        }
        guard readOnly else {
            let store = RunStore(workspace: workspace, path: path, database: queue)
            try store.markInterruptedRuns()
            return store
        }
        var pending = PendingWrites.migrations
        if upToDate {
            let dead = try queue.read { db in try deadRuns(db) }
            pending = dead.isEmpty ? .none : .deadRuns
        }
        return RunStore(workspace: workspace, path: path, database: queue, pendingWrites: pending)
    }

    /// A store not in WAL mode is not one pipe wrote: its schema is checked before the WAL connection switches it.
    private static func checkRollbackStore(path: String) throws {
        var configuration = RunStore.configuration
        configuration.readonly = true
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            try queue.read { db in try checkSchema(db, path: path) }
        } catch {
            throw translate(error, path: path)
        }
    }

    /// One connection in WAL mode: other processes still read while this one writes (WAL works across processes),
    /// and a pipe process has one thread of tracking, so a pool's extra reader connections would only cost start-up
    /// time. A read-only connection (SQLITE_OPEN_READONLY) never writes, not even the WAL's index.
    private static func connect(path: String, readOnly: Bool) throws -> DatabaseQueue {
        var walConfiguration = configuration
        walConfiguration.readonly = readOnly
        walConfiguration.prepareDatabase { db in
            if !db.configuration.readonly { try db.execute(sql: "PRAGMA journal_mode = WAL") }
        }
        do {
            return try DatabaseQueue(path: path, configuration: walConfiguration)
        } catch {
            throw translate(error, path: path)
        }
    }

    /// Refuses a store holding migrations this binary does not know, or an SQLite file that is not a run store.
    private static func checkSchema(_ db: Database, path: String) throws {
        guard try db.tableExists("grdb_migrations") else {
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
            if !tables.isEmpty {
                throw TrackingError.storeCorrupt(
                    path: path,
                    detail:
                        "an SQLite file that is not a pipe run store (tables: \(tables.prefix(5).joined(separator: ", ")))"
                )
            }
            return
        }
        let known = Set(Schema.migrator.migrations)
        let unknown = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations").filter {
            !known.contains($0)
        }
        if !unknown.isEmpty { throw TrackingError.storeTooNew(path: path, unknownMigrations: unknown) }
    }

    /// Refuses a store holding fewer write transactions than its tally recorded: writes that were only in the
    /// write-ahead log are gone. Reported before anything is written, so a damaged log is still there to keep.
    private static func checkWriteCount(_ db: Database, recorded: Int, walBytes: Int, path: String) throws {
        let found = try writeCount(db)
        guard found < recorded else { return }
        throw TrackingError.storeLostWrites(path: path, recorded: recorded, found: found, walDamaged: walBytes > 0)
    }

    /// The store's count of committed write transactions (its header's user version).
    static func writeCount(_ db: Database) throws -> Int { try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0 }

    /// Raises the store's write count inside the current write transaction and returns the new count.
    private static func countWrite(_ db: Database) throws -> Int {
        let count = min(try writeCount(db) + 1, Int(Int32.max))
        try db.execute(sql: "PRAGMA user_version = \(count)")
        return count
    }

    /// The size of the file at `path`, 0 when there is none.
    private static func byteCount(ofFileAt path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }

    /// Copies a write-ahead log SQLite could not use beside the store before the next write overwrites it.
    private static func keepDamagedLog(of file: URL) throws {
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let log = file.path + "-wal"
        do {
            try FileManager.default.copyItem(atPath: log, toPath: "\(log).damaged-\(stamp)")
        } catch {
            throw TrackingError.database(
                path: log, detail: "cannot keep the damaged write-ahead log: \(error.localizedDescription)")
        }
    }

    struct HeaderFacts {
        enum Journal { case none, rollback, wal }
        var journal: Journal
    }

    /// Cheap corruption checks before SQLite touches the file: the magic string and, without a WAL,
    /// a file at least as long as the page count in its header says (catches truncated copies).
    @discardableResult
    private static func checkHeader(path: String) throws -> HeaderFacts {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw TrackingError.database(path: path, detail: "cannot read the file")
        }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 100)) ?? Data()
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? header.count
        if fileSize == 0 { return HeaderFacts(journal: .none) }  // An empty file is a fresh database to SQLite.
        guard header.count == 100, header.prefix(16) == Data("SQLite format 3\u{0}".utf8) else {
            throw TrackingError.storeCorrupt(path: path, detail: "not an SQLite database")
        }
        func bigEndian(_ offset: Int, _ count: Int) -> Int {
            header[offset..<offset + count].reduce(0) { $0 << 8 | Int($1) }
        }
        let rawPageSize = bigEndian(16, 2)
        let pageSize = rawPageSize == 1 ? 65536 : rawPageSize
        let pageCount = bigEndian(28, 4)
        let headerCountIsValid = bigEndian(24, 4) == bigEndian(92, 4)
        let walExists = FileManager.default.fileExists(atPath: path + "-wal")
        if headerCountIsValid, !walExists, pageCount > 0, fileSize < pageSize * pageCount {
            throw TrackingError.storeCorrupt(
                path: path, detail: "truncated: \(fileSize) bytes, header says \(pageSize * pageCount)")
        }
        // Bytes 18 and 19: file format write and read versions, 2 in WAL mode.
        return HeaderFacts(journal: header[18] == 2 && header[19] == 2 ? .wal : .rollback)
    }

    private static func moveAside(file: URL, reason: String, path: String) throws -> URL {
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let destination = file.deletingLastPathComponent().appendingPathComponent("\(fileName).corrupt-\(stamp)")
        do {
            try FileManager.default.moveItem(at: file, to: destination)
            for suffix in ["-wal", "-shm", WriteTally.suffix] {
                let side = URL(fileURLWithPath: file.path + suffix)
                if FileManager.default.fileExists(atPath: side.path) {
                    try FileManager.default.moveItem(at: side, to: URL(fileURLWithPath: destination.path + suffix))
                }
            }
        } catch {
            throw TrackingError.database(
                path: path, detail: "cannot move the store aside (\(reason)): \(error.localizedDescription)")
        }
        return destination
    }

    static func translate(_ error: Error, path: String) -> Error {
        if error is TrackingError { return error }
        guard let databaseError = error as? DatabaseError else {
            return TrackingError.database(path: path, detail: "\(error)")
        }
        switch databaseError.resultCode {
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return TrackingError.storeCorrupt(
                path: path, detail: databaseError.message ?? "database disk image is malformed")
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return TrackingError.storeBusy(path: path, seconds: busyTimeout)
        case .SQLITE_FULL:
            var info = statvfs()
            let folder = (path as NSString).deletingLastPathComponent
            let free = statvfs(folder, &info) == 0 ? Int64(info.f_bavail) * Int64(info.f_frsize) : nil
            return TrackingError.database(
                path: path,
                detail: "the disk is full (\(free.map { "\($0 / 1000) kB" } ?? "no space") free on its file system); "
                    + "free some space and run again")
        default:
            return TrackingError.database(path: path, detail: databaseError.message ?? "\(databaseError)")
        }
    }

    /// Runs `body` in a write transaction that also raises the store's write count, then raises the tally.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            let (result, count) = try database.write { db in (try body(db), try RunStore.countWrite(db)) }
            tally?.raise(to: count)
            return result
        } catch {
            throw RunStore.translate(error, path: path)
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try database.read(body) } catch { throw RunStore.translate(error, path: path) }
    }

    // MARK: Run lifecycle

    /// Creates a `running` run for this process, its folder `runs/<id>/`, and returns its id.
    public func beginRun(
        kind: RunKind, argv: [String], git: GitFacts, pipeVersion: String,
        startedAt: Date = Date()
    ) throws -> RunID {
        try beginRun(
            kind: kind, argv: argv, git: git, pipeVersion: pipeVersion, startedAt: startedAt, process: .current)
    }

    /// As the public `beginRun`, recording `process` as the owner (tests record a child they later kill).
    func beginRun(
        kind: RunKind, argv: [String], git: GitFacts, pipeVersion: String,
        startedAt: Date, process: ProcessIdentity, id fixedID: RunID? = nil
    ) throws -> RunID {
        let id = fixedID ?? RunID.make(at: startedAt)
        let record = RunRecord(
            id: id, kind: kind, status: .running, startedAt: startedAt, endedAt: nil, argv: argv,
            user: HostFacts.userName, host: HostFacts.hostName, pid: process.pid, pidStartTicks: process.startTicks,
            pipeVersion: pipeVersion, gitCommit: git.commit, gitBranch: git.branch, gitDirty: git.isDirty)
        try write { db in try record.insert(db) }
        do {
            try FileManager.default.createDirectory(at: runFolder(id), withIntermediateDirectories: true)
        } catch {
            throw TrackingError.database(
                path: runFolder(id).path, detail: "cannot create the run folder: \(error.localizedDescription)")
        }
        return id
    }

    /// `runs/<id>/`: where a run's logs, metrics and plots go.
    public func runFolder(_ run: RunID) -> URL {
        runsFolder.appendingPathComponent(run.rawValue, isDirectory: true)
    }

    /// Records the run's resolved parameters (replacing earlier values for the same keys), in one transaction.
    public func recordParams(_ params: [RunParam], run: RunID) throws {
        try write { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO params (runId, key, value, number, overridden) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (runId, key) DO UPDATE SET
                        value = excluded.value, number = excluded.number, overridden = excluded.overridden
                    """)
            for param in params {
                try statement.execute(arguments: [
                    run, param.key, param.value, strictNumber(param.value), param.overridden,
                ])
            }
        }
    }

    /// Records one stage's outcome.
    public func recordStage(_ stage: StageOutcome, run: RunID) throws { try recordStages([stage], run: run) }

    /// Records several stages' outcomes in one transaction (skipped stages are batched this way).
    public func recordStages(_ stages: [StageOutcome], run: RunID) throws {
        guard !stages.isEmpty else { return }
        let records = stages.map { stage in
            StageRunRecord(
                id: nil, runId: run, stage: stage.stage, signature: stage.signature, outcome: stage.outcome,
                reason: stage.reason, duration: stage.duration, exitStatus: stage.exitStatus, logPath: stage.logPath,
                finishedAt: stage.finishedAt)
        }
        try write { db in for record in records { try record.insert(db) } }
    }

    /// Logs a batch of metric values (e.g. one epoch) for a stage, in one transaction. Every value is kept.
    public func logMetrics(_ points: [MetricPoint], run: RunID, stage: String) throws {
        guard !points.isEmpty else { return }
        try write { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO metrics (runId, stage, key, value, step, timestamp) VALUES (?, ?, ?, ?, ?, ?)
                    """)
            for point in points {
                try statement.execute(arguments: [
                    run, stage, point.key, point.value, point.step,
                    point.timestamp.timeIntervalSince1970,
                ])
            }
        }
    }

    /// Reads a stage's `metrics:` JSON file and records it in one transaction (see `MetricsFileContents` for how
    /// a file's values are sorted): scalars at step 0, each per-step record list as histories (points the stage
    /// already logged at the same step are not logged twice), matrices and tables as structured values, and the
    /// file itself with its `headline` keys (relative to the file, e.g. `accuracy`). `prefix` (e.g. `eval`) is
    /// prepended to every key. Returns what it recorded.
    @discardableResult
    public func recordMetricsFile(
        _ file: URL, run: RunID, stage: String, prefix: String? = nil, headline: [String] = [],
        timestamp: Date = Date()
    ) throws -> RecordedMetricsFile {
        let contents = try MetricsFileContents.read(contentsOf: file, prefix: prefix)
        let qualified = headline.map { key in prefix.map { "\($0).\(key)" } ?? key }
        try write { db in
            try Self.insert(contents, run: run, stage: stage, time: timestamp.timeIntervalSince1970, db)
            try db.execute(
                sql: "INSERT INTO metrics_files (runId, stage, path, prefix, headline) VALUES (?, ?, ?, ?, ?)",
                arguments: [
                    run, stage, relativePath(file), prefix ?? "",
                    JSONValue.array(qualified.map(JSONValue.string)).compactText,
                ])
        }
        return RecordedMetricsFile(
            scalars: contents.scalars.map { MetricPoint(key: $0.key, value: $0.value, step: 0, timestamp: timestamp) },
            histories: contents.histories, structured: Dictionary(contents.structured, uniquingKeysWith: { $1 }))
    }

    /// Scalars at step 0; history points only where the run has none at that key and step; structured values
    /// replacing any earlier one of the same key.
    private static func insert(
        _ contents: MetricsFileContents, run: RunID, stage: String, time: Double, _ db: Database
    ) throws {
        let insert = try db.cachedStatement(
            sql: "INSERT INTO metrics (runId, stage, key, value, step, timestamp) VALUES (?, ?, ?, ?, ?, ?)")
        for scalar in contents.scalars {
            try insert.execute(arguments: [run, stage, scalar.key, scalar.value, 0, time])
        }
        let insertNew = try db.cachedStatement(
            sql: """
                INSERT INTO metrics (runId, stage, key, value, step, timestamp) SELECT ?, ?, ?, ?, ?, ?
                WHERE NOT EXISTS (SELECT 1 FROM metrics WHERE runId = ? AND key = ? AND step = ?)
                """)
        for series in contents.histories {
            for (step, value) in zip(series.steps, series.values) {
                try insertNew.execute(arguments: [run, stage, series.key, value, step, time, run, series.key, step])
            }
        }
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO structured_metrics (runId, stage, key, json) VALUES (?, ?, ?, ?)
                ON CONFLICT (runId, key) DO UPDATE SET stage = excluded.stage, json = excluded.json
                """)
        for (key, value) in contents.structured {
            try upsert.execute(arguments: [run, stage, key, value.compactText])
        }
    }

    /// `file` relative to the workspace when it is inside it.
    private func relativePath(_ file: URL) -> String {
        let root = workspace.standardizedFileURL.path + "/"
        let path = file.standardizedFileURL.path
        return path.hasPrefix(root) ? String(path.dropFirst(root.count)) : path
    }

    /// Records files a run produced, in one transaction.
    public func recordArtifacts(_ artifacts: [RunArtifact], run: RunID) throws {
        try write { db in
            for artifact in artifacts {
                let record = ArtifactRecord(
                    id: nil, runId: run, stage: artifact.stage, path: artifact.path,
                    sha256: artifact.sha256, size: artifact.size)
                try record.insert(db)
            }
        }
    }

    /// Closes a run with its final status and end time.
    public func finishRun(_ run: RunID, status: RunStatus, endedAt: Date = Date()) throws {
        let changed = try write { db -> Int in
            try db.execute(
                sql: "UPDATE runs SET status = ?, endedAt = ? WHERE id = ?",
                arguments: [status, endedAt.timeIntervalSince1970, run])
            return db.changesCount
        }
        if changed == 0 { throw TrackingError.unknownRun(id: run.rawValue) }
        checkpoint()
    }

    /// Copies the WAL's transactions into `pipe.sqlite` and empties the WAL. SQLite does this by itself only
    /// every 1000 pages or when the last connection closes, and pipe exits without closing it: runs then lived
    /// only in `pipe.sqlite-wal`, and deleting that file (or the `-shm` beside it) silently lost them. Best
    /// effort: a reader in another process may hold the WAL back, and the next finished run checkpoints it.
    public func checkpoint() {
        guard path != ":memory:" else { return }
        _ = try? database.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
    }

    /// Marks `running` runs of this host whose process is gone as `interrupted`, ending them at their last
    /// recorded activity. Returns their ids. Called by `open`; writes nothing when no run is stale.
    @discardableResult
    public func markInterruptedRuns() throws -> [RunID] {
        let dead = try read { db in try RunStore.deadRuns(db) }
        guard !dead.isEmpty else { return [] }
        try write { db in
            for id in dead {
                try db.execute(
                    sql: """
                        UPDATE runs SET status = 'interrupted',
                            endedAt = max(startedAt,
                                          coalesce((SELECT max(timestamp) FROM metrics WHERE runId = runs.id), startedAt),
                                          coalesce((SELECT max(finishedAt) FROM stage_runs WHERE runId = runs.id), startedAt))
                        WHERE id = ? AND status = 'running'
                        """, arguments: [id])
            }
        }
        return dead
    }

    /// `running` runs of this host whose process is gone.
    static func deadRuns(_ db: Database) throws -> [RunID] {
        let running = try RunRecord.filter(Column("status") == RunStatus.running)
            .filter(Column("host") == HostFacts.hostName).fetchAll(db)
        return running.filter { !ProcessIdentity(pid: $0.pid, startTicks: $0.pidStartTicks).isAlive }.map(\.id)
    }
}
