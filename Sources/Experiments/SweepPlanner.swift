import ContentStore
import Foundation
import PipelineEngine
import Tracking

/// Turns `pipe exp run`'s arguments into a checked plan: every override binds to a declared param, every stage
/// exists, the grid is not absurdly large, the workspace is in a git repository. Nothing is written.
public enum SweepPlanner {
    public struct Request {
        public var grid: ExperimentGrid
        public var stages: [String] = []
        public var name: String
        public var workdir: URL?
        public var executor: ExecutorKind = .local
        public var jobs = 1
        public var slurm = SlurmOptions()
        /// `--yes`: a grid above `ExperimentGrid.confirmationLimit` is allowed.
        public var confirmed = false

        public init(grid: ExperimentGrid, name: String) {
            self.grid = grid
            self.name = name
        }
    }

    public static func plan(_ request: Request, workspace: Workspace) throws -> SweepPlan {
        try SweepPlan.checkName(request.name)
        let count = request.grid.count
        if count > ExperimentGrid.confirmationLimit && !request.confirmed {
            throw ExperimentError.gridTooLarge(count: count, limit: ExperimentGrid.confirmationLimit)
        }
        let graph = try workspace.loadGraph()
        for stage in request.stages where graph.stage(stage) == nil {
            throw PipelineError.unknownStage(name: stage, known: graph.order)
        }
        let rows = request.grid.experiments()
        var checked = Set<String>()
        for text in rows.joined() where checked.insert(text).inserted {
            _ = try ParamOverride.bind([try ParamOverride(parsing: text)], to: graph.definition)
        }
        let git = GitFacts.read(workspace: workspace.root)
        guard !git.commit.isEmpty else { throw ExperimentError.notAGitRepository(path: workspace.root.path) }
        let layout = SweepLayout(main: workspace.root)
        let workdir = try checkWorkdir(request.workdir, layout: layout)
        let id = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        return SweepPlan(
            id: String(id), name: request.name, createdAt: Date(), stages: request.stages,
            swept: request.grid.sweptTargets,
            experiments: rows.enumerated().map { PlannedExperiment(index: $0.offset + 1, overrides: $0.element) },
            workdir: workdir.path, gitCommit: git.commit, gitBranch: git.branch, gitDirty: git.isDirty,
            executor: request.executor, jobs: request.jobs, slurm: request.slurm)
    }

    /// `--workdir` must be on the filesystem of `.cache/`: outputs are hardlinked or reflinked from the store and
    /// new objects renamed into it.
    static func checkWorkdir(_ requested: URL?, layout: SweepLayout) throws -> URL {
        let cache = layout.main.appendingPathComponent(".cache", isDirectory: true)
        guard let requested else { return layout.experimentsFolder }
        let workdir = requested.standardizedFileURL
        do {
            try FileManager.default.createDirectory(at: workdir, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        } catch {
            throw ExperimentError.workspaceSetup(path: workdir.path, detail: error.localizedDescription)
        }
        var workdirStat = stat()
        var cacheStat = stat()
        guard stat(workdir.path, &workdirStat) == 0, stat(cache.path, &cacheStat) == 0 else {
            throw ExperimentError.workspaceSetup(path: workdir.path, detail: String(cString: strerror(errno)))
        }
        if workdirStat.st_dev != cacheStat.st_dev {
            throw ExperimentError.otherFilesystem(workdir: workdir.path, cache: cache.path)
        }
        return workdir
    }

    /// The plan as `pipe exp run` prints it before starting.
    public static func describe(_ plan: SweepPlan, grid: ExperimentGrid? = nil) -> String {
        let count = plan.experiments.count
        var head = "sweep '\(plan.name)': \(count) experiment\(count == 1 ? "" : "s")"
        if let grid, grid.axes.filter({ $0.values.count > 1 }).count > 1 {
            let sizes = grid.axes.filter { $0.values.count > 1 }.map { String($0.values.count) }
            head += grid.zip ? " (zipped)" : " (\(sizes.joined(separator: " × ")) grid)"
        }
        if !plan.swept.isEmpty { head += " over " + plan.swept.joined(separator: ", ") }
        head += plan.stages.isEmpty ? ", all stages" : ", stages " + plan.stages.joined(separator: " ")
        head += ", \(plan.executor.rawValue) executor"
        if plan.executor == .local { head += " -j \(plan.jobs)" }
        var lines = [head]
        let width = String(count).count
        for experiment in plan.experiments.prefix(50) {
            let number = String(experiment.index)
            lines.append(
                "  " + String(repeating: " ", count: width - number.count) + number + "  "
                    + (experiment.overrides.isEmpty ? "(no overrides)" : experiment.label))
        }
        if count > 50 { lines.append("  … and \(count - 50) more") }
        return lines.joined(separator: "\n")
    }

    /// Dependencies that no stage writes: the ones an experiment's checkout may lack (untracked data).
    public static func sourceDependencies(_ graph: StageGraph) -> [String] {
        let outputs = graph.definition.stages.flatMap(\.outputs).map(\.path)
        let deps = graph.definition.stages.flatMap(\.deps).map(\.path)
        var seen = Set<String>()
        return deps.filter { dep in
            !outputs.contains { $0 == dep || dep.hasPrefix($0 + "/") || $0.hasPrefix(dep + "/") }
                && seen.insert(dep).inserted
        }
    }
}
