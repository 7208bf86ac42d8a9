import ExitCodes

extension ECGSignalError: ExitCodeProviding { public var exitStatus: ExitStatus { .failure } }
