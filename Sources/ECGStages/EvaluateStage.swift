import ContentStore
import ECGSignal
import Foundation
import NeuralNet
import PipelineEngine

/// `ecg.evaluate`: a trained checkpoint on the test beats of the split it was trained with.
///
/// Deps: the preprocess output directory and the model checkpoint (found among the deps by their contents:
/// the directory holding `beats.bin`, the file ending in `.ckpt`). Outs: `metrics/eval.json` (exactly the keys of
/// `ClassificationReport.json`), and in the directory of the first `.svg` out, `confusion.svg` and `confusion.csv`.
public struct EvaluateStage: BuiltinStage {
    public let name = "ecg.evaluate"
    public let codeVersion = "1"
    public let declaredParams = ["threads"]

    public init() {}

    public func run(_ context: StageContext) throws {
        let params = StageParams(context)
        let threads = try params.int("threads", in: 0...1024)
        guard let checkpointPath = context.deps.first(where: { $0.hasSuffix(".ckpt") }),
            let datasetDirectory = context.deps.first(where: { !$0.hasSuffix(".ckpt") })
        else { throw StageFailure("ecg.evaluate needs the preprocess output and a .ckpt model among its deps") }
        let metricsPath = context.outputs.first { $0.hasSuffix(".json") } ?? "metrics/eval.json"
        let plotDirectory = context.outputs.first { $0.hasSuffix(".svg") }.map {
            ($0 as NSString).deletingLastPathComponent
        }

        setThreadCount(threads > 0 ? threads : ProcessInfo.processInfo.activeProcessorCount)
        let checkpoint = try Checkpoint.read(from: context.url(checkpointPath))
        let model = try Model(checkpoint: checkpoint, file: checkpointPath)
        let dataset = try BeatDatasetFile.read(
            context.url(datasetDirectory).appendingPathComponent(PreprocessStage.datasetFile))
        guard dataset.windowLength == model.inputLength else {
            throw StageFailure(
                "\(checkpointPath) expects \(model.inputLength)-sample windows, the dataset has \(dataset.windowLength)"
            )
        }
        let split = try SplitMetadata.decode(checkpoint.metadata, file: checkpointPath)
        let (_, test) = split.assign(dataset)
        guard !test.isEmpty else { throw StageFailure("split \(split) leaves no test beats") }
        let evaluation = try Evaluation.run(model, dataset: dataset, indices: test, features: model.featureCount)
        let report = evaluation.report

        try AtomicFile.write(Data((report.json(split: split.kind) + "\n").utf8), to: context.url(metricsPath))
        if let plotDirectory {
            let directory = context.url(plotDirectory)
            try AtomicFile.write(
                Data(ConfusionHeatMap(title: "Confusion on \(split.kind) test beats", report: report).svg().utf8),
                to: directory.appendingPathComponent("confusion.svg"))
            try AtomicFile.write(
                Data(CSVTable(confusion: report).text().utf8), to: directory.appendingPathComponent("confusion.csv"))
        }
        context.log(
            "\(split.kind) test: \(test.count) beats, accuracy \(String(format: "%.4f", report.accuracy)), "
                + "macro-F1 \(String(format: "%.4f", report.macroF1))")
        for line in report.table().split(separator: "\n") { context.log(String(line)) }
    }
}
