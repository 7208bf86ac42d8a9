import ExitCodes

// How PipelineEngine's errors end a command (see ExitCodeProviding).
extension PipelineError: ExitCodeProviding { public var exitStatus: ExitStatus { .badInput } }
extension ReproError: ExitCodeProviding { public var exitStatus: ExitStatus { .failure } }
extension StageRunError: ExitCodeProviding { public var exitStatus: ExitStatus { .failure } }
extension StageFailure: ExitCodeProviding { public var exitStatus: ExitStatus { .failure } }
