import ExitCodes

extension ExperimentError: ExitCodeProviding { public var exitStatus: ExitStatus { .badInput } }
