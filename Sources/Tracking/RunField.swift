import Foundation

/// A column a user can name in `--where`, `--sort` and `--columns`: a run fact, `params.KEY` or `metrics.KEY`.
public enum RunField: Hashable, Sendable, CustomStringConvertible {
    case id, kind, status, start, end, duration, commit, branch, dirty, user, host, pid, version
    /// The name of the sweep an experiment belongs to (`pipe exp run --name`).
    case sweep
    case param(String)
    case metric(String)

    /// The names accepted for the run facts (aliases map to the same field).
    static let names: [String: RunField] = [
        "id": .id, "kind": .kind, "status": .status,
        "start": .start, "started": .start, "end": .end, "ended": .end, "duration": .duration,
        "commit": .commit, "branch": .branch, "dirty": .dirty,
        "user": .user, "host": .host, "pid": .pid, "version": .version, "sweep": .sweep,
    ]

    static let help =
        "id, kind, status, start, end, duration, commit, branch, dirty, user, host, pid, version, sweep, params.KEY, metrics.KEY"

    /// Parses `status`, `params.train.lr`, `metrics.eval.accuracy` (also `param.` / `metric.`).
    public init(parsing key: String) throws {
        for (prefix, make) in [
            ("params.", RunField.param), ("param.", RunField.param),
            ("metrics.", RunField.metric), ("metric.", RunField.metric),
        ] where key.hasPrefix(prefix) {
            let rest = String(key.dropFirst(prefix.count))
            guard !rest.isEmpty else {
                throw TrackingError.badKey(key: key, reason: "missing the key after '\(prefix)'")
            }
            // Params and metrics are stored under dotted keys with no empty part: `metrics..acc` names nothing.
            guard !rest.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) else {
                throw TrackingError.badKey(key: key, reason: "empty key part (a leading, trailing or doubled '.')")
            }
            self = make(rest)
            return
        }
        guard let field = RunField.names[key.lowercased()] else {
            let closest = RunField.closest(to: key, among: Array(RunField.names.keys)).map { " (closest: \($0))" } ?? ""
            throw TrackingError.badKey(key: key, reason: "not a run field\(closest); use \(RunField.help)")
        }
        self = field
    }

    /// The candidate nearest to `name` by edit distance (ties: the first in sorted order); nil without candidates.
    public static func closest(to name: String, among candidates: [String]) -> String? {
        let target = Array(name.lowercased())
        return candidates.sorted().min {
            editDistance(target, Array($0.lowercased())) < editDistance(target, Array($1.lowercased()))
        }
    }

    /// Edit distance (optimal string alignment): insertions, deletions, substitutions and swaps of two neighbours
    /// each cost 1, so `stauts` is one step from `status`.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        guard !a.isEmpty, !b.isEmpty else { return a.count + b.count }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = Swift.min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    table[i][j] = Swift.min(table[i][j], table[i - 2][j - 2] + 1)
                }
            }
        }
        return table[a.count][b.count]
    }

    public var description: String {
        switch self {
        case .id: return "id"
        case .kind: return "kind"
        case .status: return "status"
        case .start: return "start"
        case .end: return "end"
        case .duration: return "duration"
        case .commit: return "commit"
        case .branch: return "branch"
        case .dirty: return "dirty"
        case .user: return "user"
        case .host: return "host"
        case .pid: return "pid"
        case .version: return "version"
        case .sweep: return "sweep"
        case .param(let key): return "params.\(key)"
        case .metric(let key): return "metrics.\(key)"
        }
    }
}

/// `--sort KEY[:asc|desc]`.
public struct SortKey: Equatable, Sendable {
    public var field: RunField
    public var descending: Bool

    public init(field: RunField, descending: Bool) {
        self.field = field
        self.descending = descending
    }

    /// Parses `metrics.acc:desc`, `start`, `params.train.lr:asc`. Ascending unless `:desc`.
    public init(parsing text: String) throws {
        var key = text
        var descending = false
        if let colon = text.lastIndex(of: ":") {
            let direction = text[text.index(after: colon)...].lowercased()
            switch direction {
            case "asc": descending = false
            case "desc": descending = true
            default:
                throw TrackingError.badKey(key: text, reason: "sort direction must be asc or desc, not '\(direction)'")
            }
            key = String(text[..<colon])
        }
        self.init(field: try RunField(parsing: key), descending: descending)
    }

    /// Newest first: the order of `runs list` without `--sort`.
    public static let newestFirst = SortKey(field: .start, descending: true)
}
