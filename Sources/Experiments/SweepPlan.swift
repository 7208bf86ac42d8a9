import Foundation

/// Where a sweep lives: `.cache/exp/NAME/sweep.json` (the plan) and, per experiment, a workspace
/// `WORKDIR/NAME/INDEX/` (WORKDIR is `.cache/exp` unless `--workdir`) and a log `.cache/exp/NAME/INDEX.log`.
public struct SweepLayout: Sendable {
    /// The main workspace root.
    public let main: URL

    public init(main: URL) { self.main = main.standardizedFileURL }

    public var experimentsFolder: URL { main.appendingPathComponent(".cache/exp", isDirectory: true) }
    public func folder(_ name: String) -> URL { experimentsFolder.appendingPathComponent(name, isDirectory: true) }
    public func planURL(_ name: String) -> URL { folder(name).appendingPathComponent("sweep.json") }
    public func logURL(_ name: String, experiment: Int) -> URL {
        folder(name).appendingPathComponent("\(experiment).log")
    }
    /// The signature locks every experiment workspace of this main workspace shares.
    public var signatureLocks: URL { experimentsFolder.appendingPathComponent(".signature-locks", isDirectory: true) }

    /// The names of the sweeps with a plan here, sorted.
    public func sweepNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: experimentsFolder.path)) ?? []
        return names.filter { FileManager.default.fileExists(atPath: planURL($0).path) }.sorted()
    }
}

/// Slurm options for `--executor slurm`, passed to `sbatch` as they are.
public struct SlurmOptions: Codable, Sendable, Equatable {
    public var partition: String?
    public var time: String?
    public var cpusPerTask: Int?
    public var memory: String?
    public var extraArguments: [String] = []

    public init(
        partition: String? = nil, time: String? = nil, cpusPerTask: Int? = nil, memory: String? = nil,
        extraArguments: [String] = []
    ) {
        self.partition = partition
        self.time = time
        self.cpusPerTask = cpusPerTask
        self.memory = memory
        self.extraArguments = extraArguments
    }

    /// The `sbatch` options these stand for.
    public var sbatchArguments: [String] {
        var arguments: [String] = []
        if let partition { arguments.append("--partition=\(partition)") }
        if let time { arguments.append("--time=\(time)") }
        if let cpusPerTask { arguments.append("--cpus-per-task=\(cpusPerTask)") }
        if let memory { arguments.append("--mem=\(memory)") }
        return arguments + extraArguments
    }
}

/// Which executor runs a sweep's experiments.
public enum ExecutorKind: String, Codable, Sendable, CaseIterable {
    case local, slurm
}

/// One experiment of a plan: its 1-based index and its overrides (`STAGE.KEY=VALUE`).
public struct PlannedExperiment: Codable, Sendable, Equatable {
    public var index: Int
    public var overrides: [String]

    /// `train.lr=1e-3 train.seed=2`.
    public var label: String { overrides.joined(separator: " ") }
}

/// A sweep as recorded before it runs (`--queue` stops here), so that `--resume` and every job read one plan.
public struct SweepPlan: Codable, Sendable, Equatable {
    public static let formatVersion = 1

    public var version = SweepPlan.formatVersion
    public var id: String
    public var name: String
    public var createdAt: Date
    /// `pipe exp run STAGE...`: the stages each experiment reproduces (all when empty).
    public var stages: [String]
    /// The keys with more than one value, in axis order.
    public var swept: [String]
    public var experiments: [PlannedExperiment]
    /// The folder holding the experiments' workspaces (`WORKDIR/NAME/INDEX`).
    public var workdir: String
    /// The main workspace's commit when the sweep was planned, and whether it had uncommitted changes.
    public var gitCommit: String
    public var gitBranch: String?
    public var gitDirty: Bool
    public var executor: ExecutorKind
    public var jobs: Int
    public var slurm: SlurmOptions

    /// The workspace of experiment `index`.
    public func workspace(_ index: Int) -> URL {
        URL(fileURLWithPath: workdir, isDirectory: true).appendingPathComponent(name, isDirectory: true)
            .appendingPathComponent(String(index), isDirectory: true)
    }

    public func experiment(_ index: Int) -> PlannedExperiment? { experiments.first { $0.index == index } }

    /// A name for a sweep without `--name`: `exp-` and the time, to the second.
    public static func defaultName(at date: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return "exp-" + formatter.string(from: date)
    }

    /// Folder-safe names only: they become paths and `--where "sweep = NAME"` values.
    public static func checkName(_ name: String) throws {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "._-"))
        guard !name.isEmpty, name.count <= 100, name.unicodeScalars.allSatisfy({ allowed.contains($0) && $0.isASCII }),
            !name.hasPrefix("."), !name.hasPrefix("-")
        else { throw ExperimentError.badName(name) }
    }

    public func save(_ layout: SweepLayout) throws {
        let url = layout.planURL(name)
        do {
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .secondsSince1970
            let temporary = url.deletingLastPathComponent().appendingPathComponent(".sweep.json.tmp-\(getpid())")
            try encoder.encode(self).write(to: temporary)
            guard rename(temporary.path, url.path) == 0 else {
                throw ExperimentError.workspaceSetup(path: url.path, detail: String(cString: strerror(errno)))
            }
        } catch let error as ExperimentError {
            throw error
        } catch {
            throw ExperimentError.workspaceSetup(path: url.path, detail: error.localizedDescription)
        }
    }

    public static func load(_ layout: SweepLayout, name: String) throws -> SweepPlan {
        let url = layout.planURL(name)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ExperimentError.unknownSweep(name: name, known: layout.sweepNames())
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        do {
            let plan = try decoder.decode(SweepPlan.self, from: data)
            guard plan.version == formatVersion else {
                throw ExperimentError.malformedSweepFile(
                    path: url.path, detail: "format version \(plan.version), this pipe reads \(formatVersion)")
            }
            return plan
        } catch let error as ExperimentError {
            throw error
        } catch {
            throw ExperimentError.malformedSweepFile(path: url.path, detail: "\(error)")
        }
    }
}
