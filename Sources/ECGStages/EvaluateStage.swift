import ContentStore
import ECGSignal
import Foundation
import NeuralNet
import PipelineEngine

/// `ecg.evaluate`: a trained checkpoint on the test beats of the split it was trained with.
///
/// Deps: the preprocess output directory and the model checkpoint (found among the deps by their contents:
/// the directory holding `beats.bin`, the file ending in `.ckpt`). Outs: `metrics/eval.json` (the keys of
/// `ClassificationReport.json`, then `RhythmReport`'s per-rhythm scores when the beats carry the reference's
/// rhythm), and in the directory of the first `.svg` out, `confusion.svg` and `confusion.csv`.
public struct EvaluateStage: BuiltinStage {
    public let name = "ecg.evaluate"
    public let codeVersion = "2"  // 2: per-rhythm scores
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
        if case .ds1CrossValidation = split {
            try reportCrossValidation(
                CrossValidationResult(metadata: checkpoint.metadata, file: checkpointPath), split: split,
                metricsPath: metricsPath, plotDirectory: plotDirectory, context: context)
            return
        }
        let (_, test) = split.assign(dataset)
        guard !test.isEmpty else { throw StageFailure("split \(split) leaves no test beats") }
        let evaluation = try Evaluation.run(model, dataset: dataset, indices: test, features: model.featureCount)
        let report = evaluation.report
        let rhythms = try RhythmReport(
            truth: test.map { Int(dataset.label[$0]) }, predicted: evaluation.predicted,
            rhythms: test.map { dataset.rhythmName(of: $0) })

        try write(
            report, split: split, extra: rhythms.jsonMembers, metricsPath: metricsPath, plotDirectory: plotDirectory,
            context: context)
        context.log(
            "\(split.kind) test: \(test.count) beats, accuracy \(String(format: "%.4f", report.accuracy)), "
                + "macro-F1 \(String(format: "%.4f", report.macroF1))")
        for line in report.table().split(separator: "\n") { context.log(String(line)) }
        if !rhythms.reports.isEmpty { context.log("per rhythm (Se/+P %):") }
        for line in rhythms.table().split(separator: "\n") { context.log(String(line)) }
    }

    /// `split: ds1-cv`: the folds' figures the training measured, pooled over DS1 in the usual keys, per fold and
    /// as mean and deviation besides; no beat of DS2 is scored.
    private func reportCrossValidation(
        _ result: CrossValidationResult, split: DatasetSplit, metricsPath: String, plotDirectory: String?,
        context: StageContext
    ) throws {
        let pooled = try result.pooled()
        let rhythms = try result.pooledRhythms()
        try write(
            pooled, split: split, extra: rhythms.jsonMembers + result.jsonMembers, metricsPath: metricsPath,
            plotDirectory: plotDirectory, context: context)
        context.log(
            "\(split): \(pooled.count) DS1 beats, each scored by the fold model that did not see its record")
        for line in result.table().split(separator: "\n") { context.log(String(line)) }
        for line in pooled.table().split(separator: "\n") { context.log(String(line)) }
        if !rhythms.reports.isEmpty { context.log("per rhythm (Se/+P %):") }
        for line in rhythms.table().split(separator: "\n") { context.log(String(line)) }
    }

    /// `metrics/eval.json` with `extra` members, and the confusion plot and table.
    private func write(
        _ report: ClassificationReport, split: DatasetSplit, extra: [(String, ReportJSON)], metricsPath: String,
        plotDirectory: String?, context: StageContext
    ) throws {
        try AtomicFile.write(
            Data((report.json(split: split.kind, extra: extra) + "\n").utf8), to: context.url(metricsPath))
        if let plotDirectory {
            let directory = context.url(plotDirectory)
            try AtomicFile.write(
                Data(ConfusionHeatMap(title: "Confusion on \(split.kind) test beats", report: report).svg().utf8),
                to: directory.appendingPathComponent("confusion.svg"))
            try AtomicFile.write(
                Data(CSVTable(confusion: report).text().utf8), to: directory.appendingPathComponent("confusion.csv"))
        }
    }
}
