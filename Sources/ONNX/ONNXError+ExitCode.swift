import ExitCodes

extension ONNXError: ExitCodeProviding { public var exitStatus: ExitStatus { .badInput } }
