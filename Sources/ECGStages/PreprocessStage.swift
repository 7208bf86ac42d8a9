import ContentStore
import ECGSignal
import Foundation
import Parallel
import PipelineEngine
import WFDB

/// `ecg.preprocess`: the records of a WFDB database directory → one labelled beat dataset.
///
/// Deps: the database directory (first dep). Outs: a directory (first out) that receives `beats.bin`
/// (`BeatDatasetFile`) and `summary.json` (beats per class per record, and what was skipped and why).
/// Records are processed in parallel and assembled in the order of the record list, so the output is the same
/// for any number of cores.
public struct PreprocessStage: BuiltinStage {
    public let name = "ecg.preprocess"
    public let codeVersion = "6"  // 6: 18 features per beat (the atrial activity before the QRS)
    public let declaredParams = [
        "lead", "window", "resample_hz", "normalize", "peaks", "match_window_ms", "classes", "records",
    ]

    public static let datasetFile = "beats.bin"
    public static let summaryFile = "summary.json"

    public init() {}

    public func run(_ context: StageContext) throws {
        guard let source = context.deps.first, let output = context.outputs.first else {
            throw StageFailure("ecg.preprocess needs the database directory as its first dep and an output directory")
        }
        let settings = try Self.settings(from: StageParams(context))
        let directory = context.url(source)
        let names = try Self.recordNames(in: directory, requested: try StageParams(context).optionalNames("records"))
        let started = ContinuousClock.now
        let (dataset, perRecord) = try Self.build(
            directory: directory, records: names, settings: settings, gather: false
        ) {
            done, total in context.progress("records \(done)/\(total)")
        }
        let outputURL = context.url(output)
        try FileManager.default.createDirectory(at: outputURL, withIntermediateDirectories: true)
        try context.writeOutput(to: outputURL.appendingPathComponent(Self.datasetFile)) { sink in
            try BeatDatasetFile.write(shape: dataset, parts: perRecord.map(\.beats), into: sink)
        }
        try AtomicFile.write(
            Self.summary(dataset: dataset, perRecord: perRecord, settings: settings),
            to: outputURL.appendingPathComponent(Self.summaryFile))

        let counts = dataset.classCounts
        let classes = zip(AAMIClass.allCases, counts).map { "\($0.rawValue) \($1)" }.joined(separator: " · ")
        let skipped = perRecord.map(\.beats.counts).reduce(BeatExtractionCounts(), +)
        let seconds =
            Double((ContinuousClock.now - started).components.attoseconds) / 1e18
            + Double((ContinuousClock.now - started).components.seconds)
        context.log(
            "\(names.count) records → \(dataset.count) beats: \(classes) "
                + String(format: "(%.2f s)", seconds))
        context.log(
            "skipped: \(skipped.unlabeled) unlabelled, \(skipped.outOfBounds) at the edges, "
                + "\(skipped.invalid) with invalid samples"
                + (settings.peaks == .detected ? ", \(skipped.unmatchedDetections) unmatched detections" : ""))
    }

    /// The extraction settings a params file asks for.
    static func settings(from params: StageParams) throws -> BeatExtractionSettings {
        var settings = BeatExtractionSettings()
        let lead = try params.string("lead")
        settings.lead = LeadSelection(text: lead, fallbackToFirst: true)
        settings.windowLength = try params.int("window", in: 8...16_384)
        settings.targetRate = try params.optionalDouble("resample_hz", in: ECGSamplingRate.usable)
        switch try params.string("normalize") {
        case "minmax": settings.normalization = .minMax
        case "zscore": settings.normalization = .zScore
        case "none": settings.normalization = .none
        default: throw params.failure("normalize", "minmax, zscore or none")
        }
        settings.peaks = try params.choice("peaks", PeakSource.self)
        settings.matchWindow = try params.double("match_window_ms", in: 1...1000) / 1000
        guard let classes = params.params.stringLists("classes") else {
            throw params.failure("classes", "a mapping from N, S, V, F, Q to lists of annotation symbols")
        }
        do {
            settings.labels = try AAMILabelMap(classes: classes)
        } catch {
            throw StageFailure("\(params.file): 'classes': \(error)")
        }
        return settings
    }

    /// The records to process: `requested`, else the database's `RECORDS` list, else every header, sorted.
    public static func recordNames(in directory: URL, requested: [String]?) throws -> [String] {
        if let requested {
            for name in requested
            where !FileManager.default.fileExists(atPath: directory.appendingPathComponent(name + ".hea").path) {
                throw StageFailure("record \(name): no \(name).hea in \(directory.path)")
            }
            return requested
        }
        let list = directory.appendingPathComponent("RECORDS")
        if let text = try? String(contentsOf: list, encoding: .utf8) {
            let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
            if !names.isEmpty { return names }
        }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let names = files.filter { $0.hasSuffix(".hea") }.map { String($0.dropLast(4)) }.sorted()
        guard !names.isEmpty else { throw StageFailure("\(directory.path): no RECORDS file and no .hea headers") }
        return names
    }

    /// One record's contribution.
    public struct RecordResult: Sendable {
        public var name: String
        public var beats: RecordBeats
    }

    /// Extracts every record in parallel. The dataset it returns holds the records table and the labels only
    /// (no windows or features) unless `gather`: the stage streams the windows to disk from the parts instead.
    public static func build(
        directory: URL, records: [String], settings: BeatExtractionSettings, gather: Bool = true,
        progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws -> (BeatDataset, [RecordResult]) {
        let finished: (Int) -> Void = { progress($0, records.count) }
        let extractedByRecord = try parallelMap(count: records.count, progress: finished) { index in
            let path = directory.appendingPathComponent(records[index]).path
            guard settings.lead == .all else {
                return [try BeatExtraction.extract(recordPath: path, settings: settings)]
            }
            return try BeatExtraction.extractEveryLead(recordPath: path, settings: settings)
        }
        let names = zip(records, extractedByRecord).flatMap { name, leads in leads.map { _ in name } }
        let extracted = extractedByRecord.flatMap { $0 }
        let rate = extracted.first?.samplingRate ?? settings.targetRate ?? 0
        if let mismatch = extracted.first(where: { $0.samplingRate != rate }) {
            throw StageFailure(
                "record \(mismatch.record) is sampled at \(mismatch.samplingRate) Hz, not \(rate) Hz like the others; "
                    + "set resample_hz to bring them to one rate")
        }
        var dataset = BeatDataset(
            windowLength: settings.windowLength, samplingRate: rate, normalization: settings.normalization)
        var results: [RecordResult] = []
        for (name, beats) in zip(names, extracted) {
            dataset.append(record: BeatDataset.RecordEntry(name: name, lead: beats.lead), beats: beats, gather: gather)
            results.append(RecordResult(name: name, beats: beats))
        }
        return (dataset, results)
    }

    /// `summary.json`: settings, totals (beats per class and per reference rhythm), and per record its lead, beats per class and skipped beats.
    static func summary(dataset: BeatDataset, perRecord: [RecordResult], settings: BeatExtractionSettings) throws
        -> Data
    {
        func classCounts(_ labels: [AAMIClass?]) -> [String: Int] {
            var counts = Dictionary(uniqueKeysWithValues: AAMIClass.allCases.map { ($0.rawValue, 0) })
            for label in labels { if let label { counts[label.rawValue, default: 0] += 1 } }
            return counts
        }
        func skipped(_ counts: BeatExtractionCounts) -> [String: Int] {
            [
                "unlabeled": counts.unlabeled, "out_of_bounds": counts.outOfBounds, "invalid": counts.invalid,
                "unmatched_detections": counts.unmatchedDetections,
            ]
        }
        var rhythms: [String: Int] = [:]
        for result in perRecord {
            for rhythm in result.beats.rhythms where !rhythm.isEmpty { rhythms[rhythm, default: 0] += 1 }
        }
        var records: [String: Any] = [:]
        for result in perRecord {
            // With every lead, one entry per record and lead.
            let key = settings.lead == .all ? "\(result.name)/\(result.beats.leadIndex)" : result.name
            records[key] = [
                "lead": result.beats.lead, "beats": result.beats.count, "classes": classCounts(result.beats.labels),
                "reference_beats": result.beats.counts.referenceBeats, "detections": result.beats.counts.detections,
                "skipped": skipped(result.beats.counts),
            ]
        }
        let total = perRecord.map(\.beats.counts).reduce(BeatExtractionCounts(), +)
        let document: [String: Any] = [
            "format": "pipe beat dataset summary 1",
            "beats": dataset.count,
            "classes": Dictionary(
                uniqueKeysWithValues: zip(AAMIClass.allCases.map(\.rawValue), dataset.classCounts).map { ($0, $1) }),
            "skipped": skipped(total),
            "rhythms": rhythms,
            "window": settings.windowLength,
            "sampling_rate": dataset.samplingRate,
            "normalize": settings.normalization.rawValue,
            "peaks": settings.peaks.rawValue,
            "lead": settings.lead.description,
            "records": records,
        ]
        var data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        data.append(0x0A)
        return data
    }
}
