import ExitCodes

extension TrackingError: ExitCodeProviding { public var exitStatus: ExitStatus { .badInput } }
