import ArgumentParser
import ECGStages
import Foundation
import ONNX
import QRSCommands

/// `pipe infer RECORD...`: classifies every beat of raw WFDB records with an exported ONNX model.
struct InferCommand: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, csv
    }

    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Classify every beat of WFDB records (N, S, V, F, Q) and say whether an arrhythmia is present.",
        discussion: """
            Reads each record's .hea/.dat pair, resamples the lead to the model's rate when it differs, detects \
            the R peaks, cuts windows and RR features exactly as ecg.preprocess does, and runs the ONNX model. \
            RECORD is a record path (without extension or ending in .hea), a directory (its RECORDS file, else \
            every .hea in it) or a RECORDS file. Several records run in parallel: one summary line each, then a \
            total. A record is arrhythmic when its S, V and F beats together reach --burden percent of its beats.
            """
    )

    @Argument(help: "Records: paths without extension, directories, or RECORDS files.")
    var records: [String]

    @Option(help: "The ONNX model (ecg.export's output).")
    var model = "models/ecg_model.onnx"

    @Option(help: "Lead by name (e.g. MLII) or index. Default: the model's lead when present, else channel 0.")
    var lead: String?

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
        let paths = try RecordList.expand(records)
        guard FileManager.default.fileExists(atPath: model) else {
            throw BeatClassifierError.unusableModel(
                path: model, reason: "no such file (pipe repro exports it; or name one with --model)")
        }
        let classifier = try BeatClassifier(contentsOf: URL(fileURLWithPath: model))
        var options = InferenceOptions()
        options.lead = lead.map { LeadSelection(text: $0, fallbackToFirst: false) }
        options.from = from
        options.to = to
        options.rule = ArrhythmiaRule(burdenPercent: burden)
        options.batchSize = batch
        options.reference = reference

        let outcomes = try RecordList.classify(
            paths, classifier: classifier, options: options,
            jobs: min(jobs ?? ProcessInfo.processInfo.activeProcessorCount, paths.count))
        var results: [RecordInferenceResult] = []
        var failures = 0
        for (path, outcome) in zip(paths, outcomes) {
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

/// The records a command line names, and running inference over them in parallel.
enum RecordList {
    /// Record paths (without extension) for arguments that are records, directories or RECORDS files.
    static func expand(_ arguments: [String]) throws -> [String] {
        var paths: [String] = []
        for argument in arguments {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory)
            if exists && isDirectory.boolValue {
                let listing = (argument as NSString).appendingPathComponent("RECORDS")
                if FileManager.default.fileExists(atPath: listing) {
                    paths += try names(inRecordsFile: listing)
                } else {
                    let entries = try FileManager.default.contentsOfDirectory(atPath: argument)
                    let headers = entries.filter { $0.hasSuffix(".hea") }.sorted()
                    guard !headers.isEmpty else {
                        throw InferenceInputError.noRecords(path: argument, reason: "no RECORDS file and no .hea files")
                    }
                    paths += headers.map { (argument as NSString).appendingPathComponent(String($0.dropLast(4))) }
                }
            } else if exists && !argument.hasSuffix(".hea")
                && !FileManager.default.fileExists(atPath: argument + ".hea")
            {
                paths += try names(inRecordsFile: argument)
            } else {
                paths.append(argument.hasSuffix(".hea") ? String(argument.dropLast(4)) : argument)
            }
        }
        return paths
    }

    /// The records a RECORDS file lists (one name per line, relative to the file's directory).
    static func names(inRecordsFile path: String) throws -> [String] {
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let decoded = String(data: data, encoding: .utf8), !decoded.contains("\0") else {
                throw InferenceInputError.noRecords(path: path, reason: "not a text RECORDS file (nor a .hea record)")
            }
            text = decoded
        } catch let error as InferenceInputError {
            throw error
        } catch {
            throw InferenceInputError.noRecords(path: path, reason: error.localizedDescription)
        }
        let directory = (path as NSString).deletingLastPathComponent
        let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !names.isEmpty else { throw InferenceInputError.noRecords(path: path, reason: "it lists no records") }
        return names.map { directory.isEmpty ? $0 : (directory as NSString).appendingPathComponent($0) }
    }

    /// Runs every record on `jobs` workers; results keep the input order. Every runtime keeps to one thread:
    /// several records share the cores one record per worker, and a single record shares them out by tiles of
    /// beats, one runtime per core (splitting a small model's kernels between threads costs more than it saves).
    static func classify(
        _ paths: [String], classifier: BeatClassifier, options: InferenceOptions, jobs: Int
    ) throws -> [Result<RecordInferenceResult, Error>] {
        let workers = max(1, jobs)
        let lanes = workers == 1 ? ONNXRuntime.threadCount : 1
        ONNXRuntime.setThreadCount(1)
        let runtimes = try (0..<workers).map { _ in try (0..<lanes).map { _ in try classifier.makeRuntime() } }
        let lock = NSLock()
        nonisolated(unsafe) var next = 0
        nonisolated(unsafe) var outcomes = [Result<RecordInferenceResult, Error>?](repeating: nil, count: paths.count)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            while true {
                lock.lock()
                let index = next
                next += 1
                lock.unlock()
                guard index < paths.count else { return }
                let outcome = Result {
                    try RecordInference.run(
                        recordPath: paths[index], classifier: classifier, runtimes: runtimes[worker], options: options)
                }
                lock.lock()
                outcomes[index] = outcome
                lock.unlock()
            }
        }
        return outcomes.map { $0 ?? .failure(InferenceInputError.noRecords(path: "", reason: "not run")) }
    }
}

enum InferenceInputError: Error, CustomStringConvertible {
    case noRecords(path: String, reason: String)

    var description: String {
        switch self {
        case .noRecords(let path, let reason): return "\(path): \(reason)"
        }
    }
}
