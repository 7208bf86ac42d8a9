import ArgumentParser
import ECGInference
import ECGStages
import Foundation
import QRSCommands

extension LeadFusion: ExpressibleByArgument {}

/// `pipe infer RECORD...`: classifies every beat of raw WFDB records with an exported ONNX model.
struct InferCommand: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, csv
    }

    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Classify every beat of WFDB records (N, S, V, F, Q) and say whether an arrhythmia is present.",
        discussion: """
            Reads each record's .hea/.dat pair, resamples its leads to the model's rate when it differs, detects \
            the R peaks once on the model's lead (else channel 0), cuts windows and RR features at those peaks in \
            every lead exactly as ecg.preprocess does, runs the ONNX model on each, and fuses each beat's \
            probabilities over the leads (--fusion); --lead reads one lead only. Stretches too noisy to read are \
            reported, and the verdict says how much of the record they cover. \
            RECORD is a record path (without extension or ending in .hea), a directory (its RECORDS file, else \
            every .hea in it) or a RECORDS file. Several records run in parallel: one summary line each, then a \
            total. A record is arrhythmic when its S, V and F beats together reach --burden percent of its beats.
            """
    )

    @Argument(help: "Records: paths without extension, directories, or RECORDS files.")
    var records: [String]

    @Option(help: "The ONNX model (ecg.export's output).")
    var model = "models/ecg_model.onnx"

    @Option(
        help: ArgumentHelp(
            "Read only this lead, by name (e.g. MLII) or index. Default: every lead, the beats detected on the "
                + "model's lead when present, else channel 0."))
    var lead: String?

    @Option(
        help: ArgumentHelp(
            "How each beat's probabilities are fused over the leads: mean (every lead), quality (the leads that "
                + "read the beat cleanly).", valueName: "RULE"))
    var fusion: LeadFusion = .quality

    @Option(help: ArgumentHelp("Only beats from this time (samples or hh:mm:ss.sss).", valueName: "T"))
    var from: String?

    @Option(help: ArgumentHelp("Only beats before this time (samples or hh:mm:ss.sss).", valueName: "T"))
    var to: String?

    @Option(help: "Output format.")
    var format: Format = .text

    @Flag(help: "Print the summary only, not one line per beat.")
    var summary = false

    @Option(help: ArgumentHelp("Write the classes as annotation file RECORD.EXT (e.g. pipe).", valueName: "EXT"))
    var annotate: String?

    @Option(help: ArgumentHelp("Directory for the annotation files (default: next to each record).", valueName: "DIR"))
    var out: String?

    @Option(help: ArgumentHelp("Arrhythmia when S + V + F beats reach this percent of the beats.", valueName: "PCT"))
    var burden = 1.0

    @Option(
        help: ArgumentHelp(
            "Score the classes against this reference annotator (e.g. atr): detections matched within 150 ms.",
            valueName: "ANN"))
    var reference: String?

    @Option(help: "Beats per model call.")
    var batch = 1024

    @Option(name: .shortAndLong, help: "Records classified at once (default: the number of cores).")
    var jobs: Int?

    func validate() throws {
        try AnnotationOutputOptions.validate(annotate: annotate, out: out)
        guard burden.isFinite, burden >= 0, burden <= 100 else {
            throw ValidationError("--burden must be a percentage from 0 to 100, got \(burden)")
        }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1, got \(jobs)") }
    }

    func run() throws {
        var options = InferenceOptions()
        options.lead = lead.map { LeadSelection(text: $0, fallbackToFirst: false) }
        options.fusion = fusion
        options.from = from
        options.to = to
        options.rule = ArrhythmiaRule(burdenPercent: burden)
        options.batchSize = batch
        options.reference = reference
        let run = try InferenceRun(records: records, modelPath: model, options: options, jobs: jobs)
        let (paths, classifier) = (run.paths, run.classifier)

        var results: [RecordInferenceResult] = []
        var failures = 0
        for (path, outcome) in zip(paths, run.outcomes) {
            switch outcome {
            case .success(let result):
                results.append(result)
                if let annotate {
                    try RecordInference.writeAnnotations(result, annotator: annotate, directory: out)
                }
            case .failure(let error):
                if paths.count == 1 { throw error }
                failures += 1
                Console.error("error: \(path): \(error)")
            }
        }
        let total = results.map(\.summary).reduce(InferenceSummary.empty(rule: options.rule), +)
        switch format {
        case .json:
            Console.output(
                try InferenceReport.json(results, total: total, model: classifier, summaryOnly: summary)
                    .trimmingCharacters(in: .newlines))
        case .csv:
            Console.output(
                InferenceReport.csv(results, model: classifier, summaryOnly: summary)
                    .trimmingCharacters(in: .newlines))
        case .text:
            if paths.count == 1, let result = results.first {
                Console.output(
                    InferenceReport.text(result, model: classifier, summaryOnly: summary)
                        .trimmingCharacters(in: .newlines))
            } else {
                Console.output(
                    InferenceReport.table(results, total: total, model: classifier)
                        .trimmingCharacters(in: .newlines))
            }
        }
        if failures > 0 {
            Console.error("\(failures) of \(paths.count) records failed")
            throw ExitCode(2)
        }
    }
}
