import Foundation

/// What can go wrong planning, preparing or running experiments. Each message names the `-S` text, the sweep,
/// the file or the Slurm command at fault.
public enum ExperimentError: Error, Equatable, CustomStringConvertible {
    /// A `-S` sweep that does not parse: its text and what is wrong with it.
    case badSweep(text: String, problem: String)
    /// `--zip` over lists of different lengths.
    case zipLengthMismatch(lengths: [String: Int])
    /// A grid larger than the limit without `--yes`.
    case gridTooLarge(count: Int, limit: Int)
    /// A sweep name that cannot be a folder name.
    case badName(String)
    case sweepExists(name: String)
    case unknownSweep(name: String, known: [String])
    /// The workspace is not in a git repository (experiments check out HEAD).
    case notAGitRepository(path: String)
    /// A git command failed while preparing a workspace.
    case git(command: String, detail: String)
    case workspaceSetup(path: String, detail: String)
    /// `--workdir` on another filesystem than `.cache/` (objects are renamed and linked between them).
    case otherFilesystem(workdir: String, cache: String)
    /// A sweep file that cannot be read back.
    case malformedSweepFile(path: String, detail: String)
    /// `exp apply`: a param the run has that no params file holds, or a value that cannot be rewritten in place.
    case cannotApply(file: String, key: String, problem: String)
    /// `sbatch` missing, refusing a job, or `squeue` failing.
    case slurm(command: String, detail: String)
    /// The run is not an experiment.
    case notAnExperiment(run: String)

    public var description: String {
        switch self {
        case .badSweep(let text, let problem): return "bad sweep '-S \(text)': \(problem)"
        case .zipLengthMismatch(let lengths):
            let listed = lengths.keys.sorted().map { "\($0) has \(lengths[$0] ?? 0)" }.joined(separator: ", ")
            return "--zip needs lists of one length: \(listed)"
        case .gridTooLarge(let count, let limit):
            return "the grid has \(count) experiments, more than \(limit): pass --yes to run it anyway"
        case .badName(let name):
            return "sweep name '\(name)' must be letters, digits, '.', '_' or '-' and not start with '.' or '-'"
        case .sweepExists(let name):
            return "sweep '\(name)' already exists: use --resume \(name), another --name, or pipe exp remove \(name)"
        case .unknownSweep(let name, let known):
            return "no sweep named '\(name)'"
                + (known.isEmpty ? "" : " (known: \(known.prefix(10).joined(separator: ", ")))")
        case .notAGitRepository(let path):
            return "\(path) is not in a git repository: experiments run in checkouts of HEAD"
        case .git(let command, let detail): return "\(command) failed: \(detail)"
        case .workspaceSetup(let path, let detail): return "cannot prepare the experiment workspace \(path): \(detail)"
        case .otherFilesystem(let workdir, let cache):
            return "--workdir \(workdir) is on another filesystem than \(cache): outputs are linked from the cache"
        case .malformedSweepFile(let path, let detail): return "\(path): \(detail)"
        case .cannotApply(let file, let key, let problem): return "cannot set \(key) in \(file): \(problem)"
        case .slurm(let command, let detail): return "\(command): \(detail)"
        case .notAnExperiment(let run): return "run \(run) is not an experiment of any sweep"
        }
    }
}
