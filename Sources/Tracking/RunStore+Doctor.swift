import Foundation
import GRDB

/// Something `pipe doctor` found wrong with a workspace's run store.
public struct StoreFinding: Equatable, Sendable, CustomStringConvertible {
    public enum Problem: Equatable, Sendable {
        /// The store cannot be opened: corrupt, cut back (it lost writes), written by a newer pipe, or busy.
        case unopenable(TrackingError)
        /// SQLite's own check (`quick_check`, `integrity_check` when deep) found damage; its first lines.
        case damaged([String])
        /// Committed write transactions that so far live only in `pipe.sqlite-wal`: deleting it would lose them.
        case writesOnlyInLog(Int)
        /// Runs whose process died that the store still lists as running.
        case deadRuns(Int)

        var kind: String {
            switch self {
            case .unopenable: return "unopenable"
            case .damaged: return "damaged"
            case .writesOnlyInLog: return "writesOnlyInLog"
            case .deadRuns: return "deadRuns"
            }
        }
    }

    public let path: String
    public let problem: Problem
    /// Set by `RunStore.doctor(fix: true)` once the problem is gone.
    public internal(set) var fixed = false
    /// Why a fix failed, when it did.
    public internal(set) var fixFailure: String?

    public var isFixable: Bool {
        switch problem {
        case .unopenable(.storeCorrupt), .unopenable(.storeLostWrites), .damaged, .writesOnlyInLog, .deadRuns:
            return true
        case .unopenable: return false
        }
    }

    public var description: String {
        switch problem {
        case .unopenable(let error):
            if case .storeCorrupt = error { return "\(error); --fix moves it aside and starts a fresh one" }
            if case .storeLostWrites = error { return "\(error); --fix accepts it" }
            return "\(error)"
        case .damaged(let messages):
            return "\(path): SQLite's check finds damage (\(messages.joined(separator: "; "))); --fix moves it aside "
                + "(\(path).corrupt-TIME) and starts a fresh one"
        case .writesOnlyInLog(let count):
            return "\(path): \(count) committed write transaction\(count == 1 ? " is" : "s are") only in "
                + "\(path)-wal, not yet in \(path) (lost if the -wal is deleted); --fix checkpoints it"
        case .deadRuns(let count):
            return "\(path): \(count) run\(count == 1 ? "" : "s") whose process died "
                + "\(count == 1 ? "is" : "are") still marked running; --fix marks \(count == 1 ? "it" : "them") "
                + "interrupted"
        }
    }
}

extension RunStore {
    /// `pipe doctor`'s look at the run store of `workspace`, opened read-only: can it be opened (not corrupt, not
    /// cut back, see `WriteTally`), does SQLite's check pass, are writes waiting in the WAL, are dead runs marked.
    /// With `fix`, each fixable problem is repaired; nothing is ever deleted (a damaged store is moved aside).
    public static func doctor(workspace: URL, deep: Bool, fix: Bool) -> [StoreFinding] {
        let file = workspace.appendingPathComponent("runs", isDirectory: true).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: file.path) else { return [] }
        let findings = examine(file: file, workspace: workspace, deep: deep)
        guard fix else { return findings }
        var failures: [Int: String] = [:]
        for (index, finding) in findings.enumerated() where finding.isFixable {
            do { try repair(finding.problem, workspace: workspace) } catch { failures[index] = "\(error)" }
        }
        // A repair counts once the store is looked at again and the problem is gone (a checkpoint is best effort).
        let remaining = Set(examine(file: file, workspace: workspace, deep: deep).map(\.problem.kind))
        return findings.enumerated().map { index, finding in
            var result = finding
            result.fixed = finding.isFixable && failures[index] == nil && !remaining.contains(finding.problem.kind)
            if finding.isFixable, !result.fixed { result.fixFailure = failures[index] ?? "still there after the fix" }
            return result
        }
    }

    private static func examine(file: URL, workspace: URL, deep: Bool) -> [StoreFinding] {
        let path = file.path
        let store: RunStore
        do {
            store = try openExisting(workspace: workspace, file: file, readOnly: true)
        } catch let error as TrackingError {
            return [StoreFinding(path: path, problem: .unopenable(error))]
        } catch {
            return [StoreFinding(path: path, problem: .unopenable(.database(path: path, detail: "\(error)")))]
        }
        var problems: [StoreFinding.Problem] = []
        do {
            let (check, count, dead) = try store.read { db in
                let check = try String.fetchAll(db, sql: deep ? "PRAGMA integrity_check(20)" : "PRAGMA quick_check(20)")
                return (check, try writeCount(db), try deadRuns(db).count)
            }
            if check != ["ok"] { problems.append(.damaged(check)) }
            let inLogOnly = count - mainFileWriteCount(path: path)
            if inLogOnly > 0 { problems.append(.writesOnlyInLog(inLogOnly)) }
            if dead > 0 { problems.append(.deadRuns(dead)) }
        } catch {
            problems.append(.damaged(["\(error)"]))
        }
        return problems.map { StoreFinding(path: path, problem: $0) }
    }

    /// The write count in `pipe.sqlite`'s own header (bytes 60–63, big-endian): what a checkpoint copied there.
    private static func mainFileWriteCount(path: String) -> Int {
        guard let handle = FileHandle(forReadingAtPath: path) else { return 0 }
        defer { try? handle.close() }
        guard let header = try? handle.read(upToCount: 64), header.count == 64 else { return 0 }
        return header[60..<64].reduce(0) { $0 << 8 | Int($1) }
    }

    private static func repair(_ problem: StoreFinding.Problem, workspace: URL) throws {
        switch problem {
        case .unopenable, .writesOnlyInLog, .deadRuns:
            // Opening for writing marks dead runs; `repair` moves a corrupt store aside or accepts a cut-back one.
            try open(workspace: workspace, repair: true).checkpoint()
        case .damaged:
            try moveAside(workspace: workspace)
            _ = try open(workspace: workspace)
        }
    }
}
