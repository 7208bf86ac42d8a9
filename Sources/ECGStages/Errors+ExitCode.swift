import ExitCodes

// How ECGStages's errors end a command (see ExitCodeProviding).
extension BeatExtractionError: ExitCodeProviding { public var exitStatus: ExitStatus { .badInput } }
extension BeatDatasetError: ExitCodeProviding { public var exitStatus: ExitStatus { .failure } }
extension ClassificationReportError: ExitCodeProviding { public var exitStatus: ExitStatus { .failure } }
extension SVGPlotError: ExitCodeProviding { public var exitStatus: ExitStatus { .failure } }
extension FetchError: ExitCodeProviding { public var exitStatus: ExitStatus { .failure } }
