import Foundation
import GRDB
import SystemFacts
import XCTest

@testable import Tracking

/// The store under crashes, concurrency, newer schemas and damaged files.
final class StoreRobustnessTests: XCTestCase {
    private let git = GitFacts(commit: "89abcdef0123456789abcdef0123456789abcdef", branch: "main", isDirty: false)

    func testARunWhoseProcessWasKilledIsReportedInterruptedAfterOpen() throws {
        let workspace = try makeTemporaryDirectory(self)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["30"]
        try child.run()
        let identity = ProcessIdentity(
            pid: child.processIdentifier, startTicks: ProcessStat.startTicks(of: child.processIdentifier))
        XCTAssertTrue(identity.isAlive)

        let store = try RunStore.open(workspace: workspace)
        let run = try store.beginRun(
            kind: .repro, argv: ["pipe", "repro"], git: git, pipeVersion: "0.1.0",
            startedAt: Date(), process: identity)
        let epochTime = Date().addingTimeInterval(1)
        try store.logMetrics(
            [MetricPoint(key: "loss", value: 1, step: 0, timestamp: epochTime)], run: run, stage: "train")
        XCTAssertEqual(
            try RunStore.open(workspace: workspace).show(run).summary.run.status, .running, "alive: still running")

        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        XCTAssertFalse(identity.isAlive)

        let reopened = try RunStore.open(workspace: workspace)
        let record = try reopened.show(run).summary.run
        XCTAssertEqual(record.status, .interrupted)
        XCTAssertEqual(
            try XCTUnwrap(record.endedAt).timeIntervalSince1970, epochTime.timeIntervalSince1970, accuracy: 0.001,
            "ends at the last recorded activity")
        XCTAssertEqual(try reopened.show(run).summary.metrics["loss"], 1, "the partial history survives")
    }

    func testAReusedPidIsNotMistakenForTheRunsProcess() {
        let me = ProcessIdentity.current
        XCTAssertTrue(me.isAlive)
        guard let ticks = me.startTicks else { return }
        XCTAssertFalse(ProcessIdentity(pid: me.pid, startTicks: ticks + 1).isAlive)
    }

    func testProcessesOpeningANewStoreAtOnceAllGetAMigratedStore() throws {
        // Two experiments of a fresh workspace open its store together; the slower once re-applied the first
        // migration ("table runs already exists"). Each store here is its own connection, as a process's is.
        for round in 0..<10 {
            let workspace = try makeTemporaryDirectory(self)
            let errors = Locked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 6) { _ in
                do {
                    let store = try RunStore.open(workspace: workspace)
                    _ = try store.beginRun(kind: .repro, argv: ["pipe"], git: git, pipeVersion: "0.1.0")
                } catch {
                    errors.withLock { $0.append("\(error)") }
                }
            }
            XCTAssertEqual(errors.withLock { $0 }, [], "round \(round)")
            XCTAssertEqual(try RunStore.open(workspace: workspace).list().runs.count, 6, "round \(round)")
        }
    }

    func testListingWhileAnotherConnectionWritesNeverReportsLocked() throws {
        let workspace = try makeTemporaryDirectory(self)
        _ = try RunStore.open(workspace: workspace)
        let writerDone = expectation(description: "writer finished")
        let writerError = Locked<Error?>(nil)
        // A separate store is a separate SQLite connection: SQLite locks it as it would another process.
        Thread.detachNewThread {
            do {
                let writer = try RunStore.open(workspace: workspace)
                for index in 0..<60 {
                    let run = try writer.beginRun(kind: .repro, argv: [], git: self.git, pipeVersion: "0.1.0")
                    try writer.recordParams((0..<10).map { RunParam(key: "p\($0)", value: "\(index)") }, run: run)
                    for step in 0..<5 {
                        try writer.logMetrics(
                            (0..<10).map { MetricPoint(key: "m\($0)", value: Double(step), step: step) },
                            run: run, stage: "train")
                    }
                    try writer.finishRun(run, status: .succeeded)
                }
            } catch {
                writerError.withLock { $0 = error }
            }
            writerDone.fulfill()
        }
        var listings = 0
        let deadline = Date().addingTimeInterval(20)
        while writerError.withLock({ $0 == nil }) && Date() < deadline {
            let reader = try RunStore.open(workspace: workspace)
            _ = try reader.list(
                RunQuery(
                    filter: try FilterExpression(parsing: "metrics.m1 >= 0"),
                    sort: [try SortKey(parsing: "metrics.m0:desc")], limit: 50))
            listings += 1
            if try reader.list().runs.count >= 60 { break }
        }
        wait(for: [writerDone], timeout: 60)
        XCTAssertNil(writerError.withLock { $0 })
        XCTAssertGreaterThan(listings, 1)
        XCTAssertEqual(try RunStore.open(workspace: workspace).list().runs.count, 60)
    }

    func testAnotherProcessHoldingAWriteTransactionDoesNotBlockListing() throws {
        let workspace = try makeTemporaryDirectory(self)
        let store = try RunStore.open(workspace: workspace)
        try store.addRun(params: ["a": "1"], metrics: ["m": 1], start: fixedStart)
        guard
            FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")
                || FileManager.default.isExecutableFile(atPath: "/usr/local/bin/python3")
        else {
            throw XCTSkip("python3 is needed to hold a lock from another process")
        }
        // A second process takes the write lock for two seconds; readers must go on, writers must wait, not fail.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = [
            "python3", "-c",
            """
            import sqlite3, sys, time
            db = sqlite3.connect(sys.argv[1], isolation_level=None)
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE runs SET user = user")
            print("locked", flush=True)
            time.sleep(2)
            db.execute("COMMIT")
            """, store.path,
        ]
        let output = Pipe()
        holder.standardOutput = output
        try holder.run()
        _ = output.fileHandleForReading.availableData  // "locked"
        let started = Date()
        XCTAssertEqual(try RunStore.open(workspace: workspace).list().runs.count, 1)
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.5, "reading does not wait for the writer")
        let run = try store.beginRun(kind: .repro, argv: [], git: git, pipeVersion: "0.1.0")
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 1, "writing waited for the lock")
        try store.finishRun(run, status: .succeeded)
        holder.waitUntilExit()
        XCTAssertEqual(holder.terminationStatus, 0)
    }

    func testAStoreFromANewerPipeIsRefusedAndLeftUnchanged() throws {
        let workspace = try makeTemporaryDirectory(self)
        do {
            let store = try RunStore.open(workspace: workspace)
            try store.addRun(params: ["a": "1"], metrics: ["m": 1], start: fixedStart)
            try store.write { db in
                try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v9-from-the-future')")
            }
            try store.database.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        }
        let path = workspace.appendingPathComponent("runs/pipe.sqlite").path
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try RunStore.open(workspace: workspace)) { error in
            XCTAssertEqual(error as? TrackingError, .storeTooNew(path: path, unknownMigrations: ["v9-from-the-future"]))
            XCTAssertTrue("\(error)".contains(path))
            XCTAssertTrue("\(error)".contains("newer pipe"))
        }
        XCTAssertThrowsError(
            try RunStore.open(workspace: workspace, repair: true), "repair never touches a newer store")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
    }

    func testACorruptStoreIsReportedByNameAndRepairMovesItAside() throws {
        let workspace = try makeTemporaryDirectory(self)
        try write(String(repeating: "not a database ", count: 100), to: "runs/pipe.sqlite", in: workspace)
        let path = workspace.appendingPathComponent("runs/pipe.sqlite").path
        XCTAssertThrowsError(try RunStore.open(workspace: workspace)) { error in
            guard case TrackingError.storeCorrupt(let reported, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(reported, path)
            XCTAssertTrue("\(error)".contains("--repair"))
        }
        let store = try RunStore.open(workspace: workspace, repair: true)
        XCTAssertEqual(try store.list().runs.count, 0)
        let moved = try FileManager.default.contentsOfDirectory(atPath: workspace.appendingPathComponent("runs").path)
            .filter { $0.hasPrefix("pipe.sqlite.corrupt-") && !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }
        XCTAssertEqual(moved.count, 1, "the damaged file is kept, not deleted")
    }

    func testATruncatedStoreIsReportedCorrupt() throws {
        let workspace = try makeTemporaryDirectory(self)
        do {
            let store = try RunStore.open(workspace: workspace)
            for index in 0..<20 {
                try store.addRun(
                    params: Dictionary(uniqueKeysWithValues: (0..<20).map { ("p\($0)", "\(index)") }),
                    metrics: Dictionary(uniqueKeysWithValues: (0..<20).map { ("m\($0)", Double(index)) }),
                    start: fixedStart.addingTimeInterval(Double(index)))
            }
            try store.database.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        }
        let path = workspace.appendingPathComponent("runs/pipe.sqlite").path
        for side in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + side) }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try RunStore.open(workspace: workspace)) { error in
            guard case TrackingError.storeCorrupt(path, _) = error else { return XCTFail("\(error)") }
        }
    }

    func testAnSQLiteFileThatIsNotARunStoreIsNotMigrated() throws {
        let workspace = try makeTemporaryDirectory(self)
        try FileManager.default.createDirectory(
            at: workspace.appendingPathComponent("runs"), withIntermediateDirectories: true)
        let path = workspace.appendingPathComponent("runs/pipe.sqlite").path
        let other = try DatabaseQueue(path: path)
        try other.write { db in try db.execute(sql: "CREATE TABLE photos (id INTEGER PRIMARY KEY)") }
        try other.close()
        XCTAssertThrowsError(try RunStore.open(workspace: workspace)) { error in
            guard case TrackingError.storeCorrupt(path, _) = error else { return XCTFail("\(error)") }
        }
    }

    /// A store as a killed process leaves it: one finished (checkpointed) run, then a second begun with a metric,
    /// both only in the WAL; copied while the connection is open, as a crash would leave the files.
    private func storeWithWritesOnlyInTheWAL() throws -> (workspace: URL, finished: RunID) {
        let live = try makeTemporaryDirectory(self)
        let store = try RunStore.open(workspace: live)
        let finished = try store.addRun(params: ["a": "1"], metrics: ["m": 1], start: fixedStart)
        let running = try store.beginRun(kind: .repro, argv: [], git: git, pipeVersion: "0.1.0")
        try store.logMetrics([MetricPoint(key: "loss", value: 1, step: 0)], run: running, stage: "train")
        let copy = try makeTemporaryDirectory(self)
        try FileManager.default.createDirectory(
            at: copy.appendingPathComponent("runs"), withIntermediateDirectories: true)
        for suffix in ["", "-wal", WriteTally.suffix] {
            try FileManager.default.copyItem(
                atPath: store.path + suffix, toPath: copy.appendingPathComponent("runs/pipe.sqlite" + suffix).path)
        }
        return (copy, finished)
    }

    func testItem7_AStoreWhoseWALWasDeletedIsReportedNotListedEmpty() throws {
        let (workspace, finished) = try storeWithWritesOnlyInTheWAL()
        let path = workspace.appendingPathComponent("runs/pipe.sqlite").path
        try FileManager.default.removeItem(atPath: path + "-wal")
        XCTAssertThrowsError(try RunStore.open(workspace: workspace)) { error in
            guard case TrackingError.storeLostWrites(path, let recorded, let found, false) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(recorded - found, 2, "the second run's begin and its metric")
            XCTAssertTrue("\(error)".contains("write-ahead log \(path)-wal is gone"), "\(error)")
            XCTAssertTrue("\(error)".contains("--repair"), "\(error)")
        }
        XCTAssertThrowsError(try RunStore.open(workspace: workspace), "reported again, not forgotten")
        let accepted = try RunStore.open(workspace: workspace, repair: true)
        XCTAssertEqual(try accepted.list().runs.map(\.run.id), [finished], "what the main file held is kept")
        XCTAssertEqual(try RunStore.open(workspace: workspace).list().runs.count, 1)
    }

    func testItem7_RandomBytesInTheWALAreReportedAndRepairKeepsTheLog() throws {
        let (workspace, _) = try storeWithWritesOnlyInTheWAL()
        let log = workspace.appendingPathComponent("runs/pipe.sqlite-wal")
        var generator = SystemRandomNumberGenerator()
        let noise = Data(
            (0..<(try Data(contentsOf: log).count)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try noise.write(to: log)
        XCTAssertThrowsError(try RunStore.open(workspace: workspace)) { error in
            guard case TrackingError.storeLostWrites(_, _, _, true) = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("pipe.sqlite-wal is damaged"), "\(error)")
        }
        XCTAssertEqual(try Data(contentsOf: log), noise, "the damaged log is left as it was")
        _ = try RunStore.open(workspace: workspace, repair: true)
        let kept = try FileManager.default.contentsOfDirectory(atPath: log.deletingLastPathComponent().path)
            .filter { $0.hasPrefix("pipe.sqlite-wal.damaged-") }
        XCTAssertEqual(kept.count, 1)
        XCTAssertEqual(
            try Data(contentsOf: log.deletingLastPathComponent().appendingPathComponent(kept[0])), noise)
    }

    func testItem7_AnIntactCrashedStoreOpensWithAllItsRuns() throws {
        let (workspace, _) = try storeWithWritesOnlyInTheWAL()
        let store = try RunStore.open(workspace: workspace)
        let runs = try store.list().runs
        XCTAssertEqual(runs.map(\.run.status), [.running, .succeeded], "newest first; its process is this one")
    }

    func testItem7_TheTallyNeverRunsAheadOfTheStore() throws {
        let workspace = try makeTemporaryDirectory(self)
        let store = try RunStore.open(workspace: workspace)
        for index in 0..<3 {
            try store.addRun(
                params: ["i": "\(index)"], metrics: [:], start: fixedStart.addingTimeInterval(Double(index)))
            let count = try store.read { db in try RunStore.writeCount(db) }
            XCTAssertEqual(WriteTally(storePath: store.path).read(), count)
        }
        try store.remove([try store.list().runs[0].run.id])
        XCTAssertEqual(try RunStore.open(workspace: workspace).list().runs.count, 2)
    }

    func testItem9_OpeningForReadingCreatesNothingAndCannotWrite() throws {
        let workspace = try makeTemporaryDirectory(self)
        XCTAssertEqual(try RunStore.openForReading(workspace: workspace).list().runs.count, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: workspace.appendingPathComponent("runs").path))

        try RunStore.open(workspace: workspace).addRun(params: ["a": "1"], metrics: [:], start: fixedStart)
        let reader = try RunStore.openForReading(workspace: workspace)
        XCTAssertEqual(try reader.list().runs.count, 1)
        XCTAssertThrowsError(try reader.beginRun(kind: .repro, argv: [], git: git, pipeVersion: "0.1.0")) { error in
            XCTAssertTrue("\(error)".contains("readonly"), "\(error)")
        }
    }

    func testBusyAndCorruptSQLiteErrorsAreTranslated() {
        let busy = RunStore.translate(DatabaseError(resultCode: .SQLITE_BUSY), path: "/w/runs/pipe.sqlite")
        XCTAssertEqual(busy as? TrackingError, .storeBusy(path: "/w/runs/pipe.sqlite", seconds: RunStore.busyTimeout))
        let corrupt = RunStore.translate(DatabaseError(resultCode: .SQLITE_CORRUPT), path: "/w/runs/pipe.sqlite")
        guard case .storeCorrupt? = corrupt as? TrackingError else { return XCTFail("\(corrupt)") }
    }
}
