import ExitCodes

extension ReportError: ExitCodeProviding { public var exitStatus: ExitStatus { .badInput } }
