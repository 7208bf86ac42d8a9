import ExitCodes

extension QRSAnalysisError: ExitCodeProviding { public var exitStatus: ExitStatus { .badInput } }
