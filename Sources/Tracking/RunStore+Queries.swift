import Foundation
import GRDB

extension RunStore {
    // MARK: Run references

    /// Resolves `@last`, `@last~N` (N runs before the last) or a unique, case-insensitive id prefix.
    public func resolve(_ reference: String) throws -> RunID {
        let trimmed = reference.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("@") {
            guard trimmed.lowercased().hasPrefix("@last") else {
                throw TrackingError.badRunReference(reference: reference, reason: "only @last and @last~N are known")
            }
            let rest = trimmed.dropFirst("@last".count)
            var offset = 0
            if !rest.isEmpty {
                guard rest.hasPrefix("~"), let number = Int(rest.dropFirst()), number >= 0 else {
                    throw TrackingError.badRunReference(
                        reference: reference, reason: "expected @last~N with N a whole number")
                }
                offset = number
            }
            let id = try read { db in
                try RunID.fetchOne(
                    db, sql: "SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?", arguments: [offset])
            }
            guard let id else { throw TrackingError.runNotFound(reference: reference) }
            return id
        }
        let prefix = trimmed.uppercased()
        guard !prefix.isEmpty, prefix.count <= RunID.length, prefix.allSatisfy({ RunID.alphabet.contains($0) }) else {
            throw TrackingError.runNotFound(reference: reference)
        }
        let upper = prefix + String(repeating: "Z", count: RunID.length - prefix.count)
        let matches = try read { db in
            try RunID.fetchAll(
                db, sql: "SELECT id FROM runs WHERE id >= ? AND id <= ? ORDER BY id DESC LIMIT 6",
                arguments: [prefix, upper])
        }
        switch matches.count {
        case 0: throw TrackingError.runNotFound(reference: reference)
        case 1: return matches[0]
        default: throw TrackingError.ambiguousRun(reference: reference, candidates: matches.map(\.rawValue))
        }
    }

    // MARK: list

    /// Runs matching `query`, newest first unless sorted otherwise, with params and latest metrics.
    public func list(_ query: RunQuery = RunQuery(), now: Date = Date()) throws -> RunListing {
        try read { db in
            let ids = try matchingIDs(query, now: now, db)
            let records = try RunRecord.fetchAll(db, keys: ids)
            let byID = Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            let summaries = try summarize(ids.compactMap { byID[$0] }, db)
            return RunListing(
                runs: summaries, differingParamKeys: RunStore.differingKeys(summaries.map(\.params)),
                metricKeys: Set(summaries.flatMap(\.metrics.keys)).sorted(), now: now)
        }
    }

    /// The ids `query` selects, in order.
    ///
    /// Sorting by a metric first walks the `latest_metrics (key, value)` index, so the top N of 10,000 runs costs
    /// N index steps rather than a sort of every run; runs without that metric follow, newest first.
    private func matchingIDs(_ query: RunQuery, now: Date, _ db: Database) throws -> [RunID] {
        let condition = query.filter?.sql(now: now) ?? SQLFragment("1")
        func orderTerms(_ keys: ArraySlice<SortKey>) -> SQLFragment {
            var fragment = SQLFragment("")
            for key in keys {
                let term = key.sql(now: now)
                fragment.sql += term.sql + ", "
                fragment.arguments += term.arguments
            }
            return fragment
        }
        guard let first = query.sort.first, case .metric(let metricKey) = first.field else {
            let order = orderTerms(query.sort[...])
            var arguments = condition.arguments + order.arguments
            var sql = "SELECT r.id FROM runs r WHERE \(condition.sql) ORDER BY \(order.sql)r.id DESC"
            if let limit = query.limit {
                sql += " LIMIT ?"
                arguments += [limit]
            }
            return try RunID.fetchAll(db, sql: sql, arguments: arguments)
        }
        let direction = first.descending ? "DESC" : "ASC"
        let rest = orderTerms(query.sort.dropFirst())
        var arguments: StatementArguments = [metricKey]
        arguments += condition.arguments
        arguments += rest.arguments
        var sql = """
            SELECT m.runId FROM latest_metrics m JOIN runs r ON r.id = m.runId
            WHERE m.key = ? AND \(condition.sql)
            ORDER BY m.value \(direction), \(rest.sql)m.runId \(direction)
            """
        if let limit = query.limit {
            sql += " LIMIT ?"
            arguments += [limit]
        }
        var ids = try RunID.fetchAll(db, sql: sql, arguments: arguments)
        let remaining = query.limit.map { $0 - ids.count }
        if remaining.map({ $0 > 0 }) ?? true {
            var arguments = condition.arguments
            arguments += [metricKey]
            arguments += rest.arguments
            var sql = """
                SELECT r.id FROM runs r
                WHERE \(condition.sql) AND r.id NOT IN (SELECT runId FROM latest_metrics WHERE key = ?)
                ORDER BY \(rest.sql)r.id DESC
                """
            if let remaining {
                sql += " LIMIT ?"
                arguments += [remaining]
            }
            ids += try RunID.fetchAll(db, sql: sql, arguments: arguments)
        }
        return ids
    }

    private func summarize(_ runs: [RunRecord], _ db: Database) throws -> [RunSummary] {
        guard !runs.isEmpty else { return [] }
        var params: [RunID: [String: String]] = [:]
        var overridden: [RunID: [String]] = [:]
        var metrics: [RunID: [String: Double]] = [:]
        var sweeps: [RunID: String] = [:]
        var structured: [RunID: [String: JSONValue]] = [:]
        var files: [RunID: [(prefix: String, headline: [String])]] = [:]
        // Chunks keep the IN lists under SQLite's variable limit.
        for chunk in stride(from: 0, to: runs.count, by: 500).map({ Array(runs[$0..<min($0 + 500, runs.count)]) }) {
            let ids = chunk.map(\.id)
            let placeholders = databaseQuestionMarks(count: ids.count)
            // Raw rows rather than Codable records: this is the hot path of `runs list`.
            let paramRows = try Row.fetchCursor(
                db, sql: "SELECT runId, key, value, overridden FROM params WHERE runId IN (\(placeholders))",
                arguments: StatementArguments(ids))
            while let row = try paramRows.next() {
                let id = RunID(rawValue: row[0])
                let key: String = row[1]
                params[id, default: [:]][key] = row[2]
                if row[3] as Bool { overridden[id, default: []].append(key) }
            }
            let metricRows = try Row.fetchCursor(
                db, sql: "SELECT runId, key, value FROM latest_metrics WHERE runId IN (\(placeholders))",
                arguments: StatementArguments(ids))
            while let row = try metricRows.next() {
                metrics[RunID(rawValue: row[0]), default: [:]][row[1]] = row[2] as Double
            }
            let sweepRows = try Row.fetchCursor(
                db, sql: "SELECT runId, sweepName FROM run_sweeps WHERE runId IN (\(placeholders))",
                arguments: StatementArguments(ids))
            while let row = try sweepRows.next() { sweeps[RunID(rawValue: row[0])] = row[1] as String }
            let structuredRows = try Row.fetchCursor(
                db, sql: "SELECT runId, key, json FROM structured_metrics WHERE runId IN (\(placeholders))",
                arguments: StatementArguments(ids))
            while let row = try structuredRows.next() {
                // A value this binary cannot read back is shown as what it is rather than failing the listing.
                let json: String = row[2]
                let value = (try? JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))) ?? .string(json)
                structured[RunID(rawValue: row[0]), default: [:]][row[1]] = value
            }
            let fileRows = try Row.fetchCursor(
                db,
                sql: "SELECT runId, prefix, headline FROM metrics_files WHERE runId IN (\(placeholders)) ORDER BY id",
                arguments: StatementArguments(ids))
            while let row = try fileRows.next() {
                let headline = (try? JSONDecoder().decode([String].self, from: Data((row[2] as String).utf8))) ?? []
                files[RunID(rawValue: row[0]), default: []].append((row[1], headline))
            }
        }
        let before = try db.cachedStatement(sql: "SELECT id FROM runs WHERE id < ? ORDER BY id DESC LIMIT 1")
        let after = try db.cachedStatement(sql: "SELECT id FROM runs WHERE id > ? ORDER BY id ASC LIMIT 1")
        return try runs.map { run in
            let neighbours = try [before, after].compactMap { try String.fetchOne($0, arguments: [run.id]) }
            return RunSummary(
                run: run, shortID: RunStore.shortID(run.id.rawValue, neighbours: neighbours),
                params: params[run.id] ?? [:], overriddenParams: (overridden[run.id] ?? []).sorted(),
                metrics: metrics[run.id] ?? [:], sweep: sweeps[run.id], structuredMetrics: structured[run.id] ?? [:],
                headlineMetrics: RunStore.headlines(files[run.id] ?? [], metricKeys: (metrics[run.id] ?? [:]).keys))
        }
    }

    /// The declared headlines of a run's metrics files, in order; without any, its last file's metric keys.
    static func headlines(
        _ files: [(prefix: String, headline: [String])], metricKeys: Dictionary<String, Double>.Keys
    ) -> [String] {
        var seen = Set<String>()
        let declared = files.flatMap(\.headline).filter { seen.insert($0).inserted }
        guard declared.isEmpty, let last = files.last else { return declared }
        return metricKeys.filter { last.prefix.isEmpty || $0.hasPrefix(last.prefix + ".") }.sorted()
    }

    /// The shortest prefix, at least 8 characters, that differs from both neighbours in id order.
    static func shortID(_ id: String, neighbours: [String]) -> String {
        let shared = neighbours.map { neighbour in zip(id, neighbour).prefix { $0 == $1 }.count }.max() ?? 0
        return String(id.prefix(max(8, shared + 1)))
    }

    static func differingKeys(_ params: [[String: String]]) -> [String] {
        guard params.count > 1 else { return [] }
        let keys = Set(params.flatMap(\.keys))
        return keys.filter { key in Set(params.map { $0[key] }).count > 1 }.sorted()
    }

    // MARK: show

    /// Everything recorded about one run.
    public func show(_ run: RunID) throws -> RunDetail {
        try read { db in
            guard let record = try RunRecord.fetchOne(db, key: run) else {
                throw TrackingError.unknownRun(id: run.rawValue)
            }
            guard let summary = try summarize([record], db).first else {
                throw TrackingError.unknownRun(id: run.rawValue)
            }
            let stages = try StageRunRecord.filter(Column("runId") == run).order(Column("id")).fetchAll(db)
            let params = try ParamRecord.filter(Column("runId") == run).order(Column("key")).fetchAll(db)
            let points = try MetricRecord.filter(Column("runId") == run)
                .order(Column("key"), Column("step"), Column("timestamp"), Column("id")).fetchAll(db)
            let artifacts = try ArtifactRecord.filter(Column("runId") == run).order(Column("path")).fetchAll(db)
            var histories: [MetricHistory] = []
            for (key, group) in Dictionary(grouping: points, by: \.key).sorted(by: { $0.key < $1.key }) {
                guard let first = group.first, let last = group.last else { continue }
                let values = group.map(\.value)
                histories.append(
                    MetricHistory(
                        key: key, stage: last.stage, first: first.value, last: summary.metrics[key] ?? last.value,
                        min: values.min() ?? first.value, max: values.max() ?? first.value, count: group.count,
                        steps: group.map { MetricHistory.Step(step: $0.step, value: $0.value, timestamp: $0.timestamp) }
                    ))
            }
            return RunDetail(
                summary: summary, stages: stages, params: params, metrics: histories,
                artifacts: artifacts, folder: "runs/\(run.rawValue)/")
        }
    }

    // MARK: diff

    /// Params and latest metrics of two runs side by side; only differing rows unless `all`.
    public func diff(_ a: RunID, _ b: RunID, all: Bool = false) throws -> RunDiff {
        try read { db in
            let records = try [a, b].map { id -> RunRecord in
                guard let record = try RunRecord.fetchOne(db, key: id) else {
                    throw TrackingError.unknownRun(id: id.rawValue)
                }
                return record
            }
            let summaries = try summarize(records, db)
            let left = summaries[0]
            let right = summaries[1]
            func rows(_ lhs: [String: String], _ rhs: [String: String]) -> [RunDiff.Row] {
                Set(lhs.keys).union(rhs.keys).sorted().compactMap { key in
                    let row = RunDiff.Row(key: key, a: lhs[key], b: rhs[key], delta: nil)
                    guard all || row.differs else { return nil }
                    var withDelta = row
                    if let x = row.a.flatMap(strictNumber), let y = row.b.flatMap(strictNumber) {
                        withDelta.delta = y - x
                    }
                    return withDelta
                }
            }
            func text(_ metrics: [String: Double]) -> [String: String] {
                metrics.mapValues { RunStore.formatNumber($0) }
            }
            var metricRows = rows(text(left.metrics), text(right.metrics))
            for index in metricRows.indices {
                let key = metricRows[index].key
                if let x = left.metrics[key], let y = right.metrics[key] { metricRows[index].delta = y - x }
            }
            return RunDiff(a: left, b: right, params: rows(left.params, right.params), metrics: metricRows)
        }
    }

    /// Full-precision, shortest round-tripping text for a number ("0.001", "12", "0.93").
    public static func formatNumber(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    // MARK: rm, gc

    /// Deletes runs (rows and `runs/<id>/` folders). Refuses a run whose process is still alive.
    public func remove(_ runs: [RunID]) throws {
        let records = try read { db in
            try runs.map { id -> RunRecord in
                guard let record = try RunRecord.fetchOne(db, key: id) else {
                    throw TrackingError.unknownRun(id: id.rawValue)
                }
                return record
            }
        }
        for record in records
        where record.status == .running && record.host == HostFacts.hostName
            && ProcessIdentity(pid: record.pid, startTicks: record.pidStartTicks).isAlive
        {
            throw TrackingError.runStillRunning(id: record.id.rawValue, pid: record.pid)
        }
        try write { db in
            for id in runs { _ = try RunRecord.deleteOne(db, key: id) }
        }
        for id in runs { try? FileManager.default.removeItem(at: runFolder(id)) }
    }

    /// Keeps the `keep` newest runs (and any still running), deletes the rest, and removes run folders
    /// no run owns. Returns the deleted ids, oldest first.
    @discardableResult
    public func collectGarbage(keep: Int) throws -> [RunID] {
        let doomed = try read { db in
            try RunID.fetchAll(
                db,
                sql: """
                    SELECT id FROM runs WHERE id NOT IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?)
                    AND status != 'running' ORDER BY id
                    """, arguments: [max(0, keep)])
        }
        if !doomed.isEmpty {
            try write { db in
                for id in doomed { _ = try RunRecord.deleteOne(db, key: id) }
            }
        }
        for id in doomed { try? FileManager.default.removeItem(at: runFolder(id)) }
        let known = Set(try read { db in try String.fetchAll(db, sql: "SELECT id FROM runs") })
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: runsFolder.path)) ?? []
        for name in folders where RunID.isWellFormed(name) && !known.contains(name) {
            try? FileManager.default.removeItem(at: runsFolder.appendingPathComponent(name, isDirectory: true))
        }
        return doomed
    }
}
