import PipelineEngine

/// The ECG stages this library offers to `uses:` in a pipeline.
public enum ECGStageCatalog {
    /// Every built-in ECG stage, ready to register with the engine.
    public static var stages: [BuiltinStage] {
        [FetchStage(), PreprocessStage(), TrainStage(), EvaluateStage(), ExportStage()]
    }
}
