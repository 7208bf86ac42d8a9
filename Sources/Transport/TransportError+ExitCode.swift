import ExitCodes

extension TransportError: ExitCodeProviding { public var exitStatus: ExitStatus { .failure } }
