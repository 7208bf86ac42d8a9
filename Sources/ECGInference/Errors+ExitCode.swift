import ExitCodes

// How ECGInference's errors end a command (see ExitCodeProviding).
extension BeatClassifierError: ExitCodeProviding { public var exitStatus: ExitStatus { .badInput } }
extension InferenceError: ExitCodeProviding { public var exitStatus: ExitStatus { .badInput } }
extension InferenceInputError: ExitCodeProviding { public var exitStatus: ExitStatus { .badInput } }
