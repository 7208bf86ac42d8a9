import ExitCodes

// How NeuralNet's errors end a command (see ExitCodeProviding).
extension CheckpointError: ExitCodeProviding { public var exitStatus: ExitStatus { .failure } }
extension ArchitectureError: ExitCodeProviding { public var exitStatus: ExitStatus { .failure } }
extension ModelError: ExitCodeProviding { public var exitStatus: ExitStatus { .failure } }
