/// The project's exit codes for a command that fails (0 is success).
public enum ExitStatus: Int32, Sendable {
    /// A stage, a check, a transfer or a service failed.
    case failure = 1
    /// Bad usage or bad input: a file, a flag, a pipeline, a model that cannot be used.
    case badInput = 2
}

/// An error that says how it ends the process. Each domain's error enum adopts it (in a file of its own, next to
/// the enum), so the CLI maps every domain's errors through one `catch` instead of a list of types.
public protocol ExitCodeProviding: Error {
    var exitStatus: ExitStatus { get }
}

extension ExitCodeProviding {
    /// The code the process exits with.
    public var exitCode: Int32 { exitStatus.rawValue }
}
