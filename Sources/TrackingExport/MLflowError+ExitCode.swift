import ExitCodes

extension MLflowError: ExitCodeProviding { public var exitStatus: ExitStatus { isUsageError ? .badInput : .failure } }
