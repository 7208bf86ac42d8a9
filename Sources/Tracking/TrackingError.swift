import Foundation

/// Everything that can go wrong in the run store or while reading git facts.
/// Each message names the file, run or expression involved; the CLI maps these to exit code 2.
public enum TrackingError: Error, CustomStringConvertible, Equatable {
    /// The store was written by a newer `pipe` (it has migrations this binary does not know). Left untouched.
    case storeTooNew(path: String, unknownMigrations: [String])
    /// The store is not a readable SQLite database (corrupt or truncated).
    case storeCorrupt(path: String, detail: String)
    /// The store holds `found` of the `recorded` write transactions its tally (`pipe.sqlite-writes`) counted: its
    /// write-ahead log was deleted (or `walDamaged`: is there but SQLite could not use it) before a checkpoint.
    case storeLostWrites(path: String, recorded: Int, found: Int, walDamaged: Bool)
    /// Another process held the store past the busy timeout.
    case storeBusy(path: String, seconds: Double)
    /// Any other SQLite failure, with the store's path.
    case database(path: String, detail: String)
    /// No run matches the reference (id prefix, `@last`, `@last~N`).
    case runNotFound(reference: String)
    /// An id prefix matches more than one run.
    case ambiguousRun(reference: String, candidates: [String])
    /// A malformed run reference such as `@last~x`.
    case badRunReference(reference: String, reason: String)
    /// A `--where` expression that does not parse.
    case badFilter(expression: String, column: Int, reason: String)
    /// A `--sort` or `--columns` key that is not a run field, `params.KEY` or `metrics.KEY`.
    case badKey(key: String, reason: String)
    /// A `--columns` param or metric that no listed run has, with the nearest name that one has.
    case unknownColumn(key: String, closest: String?)
    /// A metrics JSON file that cannot be read or is not a JSON object.
    case badMetricsFile(path: String, reason: String)
    /// `rm` of a run whose process is still alive.
    case runStillRunning(id: String, pid: Int32)
    /// A run reference points to a run that is not in this store (deleted meanwhile).
    case unknownRun(id: String)
    /// Reading git history failed (`--all-commits` outside a repository, a libgit2 error).
    case git(path: String, reason: String)

    public var description: String {
        switch self {
        case .storeTooNew(let path, let unknown):
            return "\(path): written by a newer pipe (unknown schema migrations: \(unknown.joined(separator: ", "))); "
                + "upgrade pipe to read it. The store was not modified."
        case .storeCorrupt(let path, let detail):
            return
                "\(path): not a readable run store (\(detail)); run again with --repair to move it aside and start a fresh one"
        case .storeLostWrites(let path, let recorded, let found, let walDamaged):
            let log = path + "-wal"
            let cause =
                walDamaged
                ? "its write-ahead log \(log) is damaged, and SQLite dropped"
                : "its write-ahead log \(log) is gone (deleted, with its -shm?), and with it"
            return "\(path): the run store lost writes: \(cause) the last \(recorded - found) of the \(recorded) "
                + "write transactions recorded in \(path)\(WriteTally.suffix) (runs begun or finished since the last "
                + "checkpoint). The store was not modified; `pipe runs list --repair` accepts it as it is"
                + (walDamaged ? " and keeps the damaged log as \(log).damaged-TIME" : "")
        case .storeBusy(let path, let seconds):
            return
                "\(path): the run store stayed locked by another pipe process for more than \(formatSeconds(seconds)) s; try again when it finishes"
        case .database(let path, let detail):
            return "\(path): \(detail)"
        case .runNotFound(let reference):
            return "no run matches '\(reference)' (use an id prefix, @last or @last~N; see `pipe runs list`)"
        case .ambiguousRun(let reference, let candidates):
            let shown = candidates.prefix(5).joined(separator: ", ")
            return
                "'\(reference)' matches \(candidates.count) runs (\(shown)\(candidates.count > 5 ? ", …" : "")); give more characters"
        case .badRunReference(let reference, let reason):
            return "bad run reference '\(reference)': \(reason)"
        case .badFilter(let expression, let column, let reason):
            let caret = String(repeating: " ", count: max(0, column - 1)) + "^"
            return "bad --where expression at column \(column): \(reason)\n  \(expression)\n  \(caret)"
        case .badKey(let key, let reason):
            return "bad key '\(key)': \(reason)"
        case .unknownColumn(let key, let closest):
            return "unknown column '\(key)' in --columns: no listed run has it"
                + (closest.map { " (closest: \($0))" } ?? "")
        case .badMetricsFile(let path, let reason):
            return "\(path): \(reason)"
        case .runStillRunning(let id, let pid):
            return "run \(id) is still running (pid \(pid)); stop it first"
        case .unknownRun(let id):
            return "run \(id) is not in the store"
        case .git(let path, let reason):
            return "\(path): cannot read the git history: \(reason)"
        }
    }
}

private func formatSeconds(_ value: Double) -> String {
    value == value.rounded() ? String(Int(value)) : String(value)
}
