import Foundation

/// What can stop `pipe report`. Each message names the file or the selection; the CLI maps these to exit code 2.
public enum ReportError: Error, CustomStringConvertible, Equatable {
    /// The selection (a `--where`, the store) holds no run.
    case noRuns(selection: String)
    /// The output file cannot be written (its folder is missing or read-only, the rename failed).
    case unwritableOutput(path: String, reason: String)

    public var description: String {
        switch self {
        case .noRuns(let selection):
            return "no runs to report: \(selection)"
        case .unwritableOutput(let path, let reason):
            return "\(path): cannot write the report: \(reason)"
        }
    }
}
