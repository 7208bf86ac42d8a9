import ExitCodes

extension WFDBError: ExitCodeProviding { public var exitStatus: ExitStatus { .badInput } }
