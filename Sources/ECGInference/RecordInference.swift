import ECGSignal
import ECGStages
import Foundation
import ONNX
import WFDB

/// One classified beat.
public struct BeatPrediction: Equatable, Sendable {
    /// R-peak frame number at the record's own frame rate (what WFDB annotations count).
    public var sample: Int
    /// Seconds from the record's start.
    public var time: Double
    public var beatClass: AAMIClass
    /// The probability of `beatClass`.
    public var probability: Float
    /// Every class's probability, in `BeatClassifier.classes` order.
    public var probabilities: [Float]
}

/// When a record counts as arrhythmic: the share of S, V and F beats among all classified beats.
public struct ArrhythmiaRule: Equatable, Sendable, CustomStringConvertible {
    /// Percent of beats; the record is arrhythmic when the S + V + F beats reach it.
    public var burdenPercent: Double
    public static let arrhythmicClasses: [AAMIClass] = [.S, .V, .F]

    public init(burdenPercent: Double = 1.0) { self.burdenPercent = burdenPercent }

    public var description: String {
        "S, V and F beats together at least \(InferenceFormat.percent(burdenPercent)) of the beats"
    }
}

/// Beats per class, heart rate and verdict of a record (or of many together).
public struct InferenceSummary: Equatable, Sendable {
    public var beats: Int
    /// Beats per class, in N S V F Q order.
    public var counts: [AAMIClass: Int]
    /// Seconds of signal classified.
    public var duration: Double
    /// Beats per minute from the mean RR interval; nil with fewer than two beats.
    public var meanHeartRate: Double?
    public var rule: ArrhythmiaRule

    public init(
        beats: Int, counts: [AAMIClass: Int], duration: Double, meanHeartRate: Double?, rule: ArrhythmiaRule
    ) {
        self.beats = beats
        self.counts = counts
        self.duration = duration
        self.meanHeartRate = meanHeartRate
        self.rule = rule
    }

    public func count(_ beatClass: AAMIClass) -> Int { counts[beatClass] ?? 0 }

    public func share(_ beatClass: AAMIClass) -> Double {
        beats == 0 ? 0 : Double(count(beatClass)) / Double(beats) * 100
    }

    /// S + V + F beats, percent of all beats.
    public var burden: Double {
        beats == 0 ? 0 : Double(ArrhythmiaRule.arrhythmicClasses.map(count).reduce(0, +)) / Double(beats) * 100
    }

    public var arrhythmia: Bool { beats > 0 && burden >= rule.burdenPercent }

    /// The arrhythmic classes present, most frequent first.
    public var findings: [AAMIClass] {
        ArrhythmiaRule.arrhythmicClasses.filter { count($0) > 0 }.sorted { count($0) > count($1) }
    }

    public static func + (left: InferenceSummary, right: InferenceSummary) -> InferenceSummary {
        var sum = left
        sum.beats += right.beats
        for beatClass in AAMIClass.allCases { sum.counts[beatClass] = left.count(beatClass) + right.count(beatClass) }
        // Each side's rate weighted by its duration (a side without a rate carries no weight).
        let leftWeight = left.meanHeartRate == nil ? 0 : left.duration
        let rightWeight = right.meanHeartRate == nil ? 0 : right.duration
        sum.meanHeartRate =
            leftWeight + rightWeight > 0
            ? ((left.meanHeartRate ?? 0) * leftWeight + (right.meanHeartRate ?? 0) * rightWeight)
                / (leftWeight + rightWeight) : nil
        sum.duration += right.duration
        return sum
    }

    public static func empty(rule: ArrhythmiaRule) -> InferenceSummary {
        InferenceSummary(beats: 0, counts: [:], duration: 0, meanHeartRate: nil, rule: rule)
    }
}

/// Detected beats scored against a record's reference annotations: each detection matched to the nearest
/// reference beat within the window (150 ms), classes compared over matched, labelled beats.
public struct InferenceEvaluation: Equatable, Sendable {
    /// [truth][prediction], N S V F Q.
    public var confusion: [[Int]]
    /// Labelled reference beats no detection matched.
    public var missed: Int
    /// Detections no reference beat matched.
    public var extra: Int
    /// Reference beats with a symbol outside the AAMI map (matched or not): not scored.
    public var unlabeled: Int

    public static let empty = InferenceEvaluation(
        confusion: Array(
            repeating: Array(repeating: 0, count: AAMIClass.allCases.count), count: AAMIClass.allCases.count),
        missed: 0, extra: 0, unlabeled: 0)

    public static func + (left: InferenceEvaluation, right: InferenceEvaluation) -> InferenceEvaluation {
        var sum = left
        for row in sum.confusion.indices {
            for column in sum.confusion[row].indices { sum.confusion[row][column] += right.confusion[row][column] }
        }
        sum.missed += right.missed
        sum.extra += right.extra
        sum.unlabeled += right.unlabeled
        return sum
    }
}

/// What `pipe infer` found in one record.
public struct RecordInferenceResult: Sendable {
    public var record: String
    public var path: String
    public var lead: String
    public var leadIndex: Int
    /// The record's frame rate, Hz.
    public var frameRate: Double
    /// The rate the beats were cut at (the model's), Hz.
    public var modelRate: Double
    /// Seconds of signal in the record.
    public var duration: Double
    /// Detections whose window did not fit in the record or held invalid samples: not classified.
    public var skipped: Int
    public var beats: [BeatPrediction]
    public var summary: InferenceSummary
    public var evaluation: InferenceEvaluation?
    /// Seconds spent reading, detecting and windowing, and in the model.
    public var extractSeconds: Double
    public var classifySeconds: Double
}

/// Options of one inference run.
public struct InferenceOptions: Sendable {
    public var lead: LeadSelection?
    /// Keep the beats in [from, to) frames at the record's rate; nil: from the start / to the end.
    public var from: String?
    public var to: String?
    public var rule = ArrhythmiaRule()
    public var batchSize = 1024
    /// Score against this reference annotator (e.g. `atr`) when set.
    public var reference: String?

    public init() {}
}

/// Errors of an inference run on a record.
public enum InferenceError: Error, Equatable, CustomStringConvertible {
    case badTime(record: String, option: String, value: String)
    case emptyRange(record: String, from: Int, to: Int)

    public var description: String {
        switch self {
        case .badTime(let record, let option, let value):
            return "\(record): \(option) '\(value)' is not a sample number or a time hh:mm:ss.sss"
        case .emptyRange(let record, let from, let to):
            return "\(record): --from \(from) is not before --to \(to)"
        }
    }
}

/// Reads a record, detects its beats, cuts windows and RR features exactly as `ecg.preprocess` does, and
/// classifies every beat.
public enum RecordInference {
    public static func run(
        recordPath: String, classifier: BeatClassifier, runtime: ONNXSession, options: InferenceOptions
    ) throws -> RecordInferenceResult {
        try run(recordPath: recordPath, classifier: classifier, runtimes: [runtime], options: options)
    }

    /// `run` with several runtimes of the model, which classify a batch's tiles in parallel.
    public static func run(
        recordPath: String, classifier: BeatClassifier, runtimes: [ONNXSession], options: InferenceOptions
    ) throws -> RecordInferenceResult {
        let clock = ContinuousClock()
        var settings = classifier.settings
        if let lead = options.lead { settings.lead = lead }
        let extractStart = clock.now
        let beats = try BeatExtraction.extract(recordPath: recordPath, settings: settings)
        let extractSeconds = seconds(clock.now - extractStart)
        let frameScale = beats.samplingRate / beats.frameRate

        // The range, in frames at the record's rate.
        let frames = Int((Double(beats.signalLength) / frameScale).rounded())
        func bound(_ text: String?, option: String, default value: Int) throws -> Int {
            guard let text else { return value }
            guard let frame = SampleTime.parse(text, frequency: beats.frameRate) else {
                throw InferenceError.badTime(record: beats.record, option: option, value: text)
            }
            return frame
        }
        let from = try bound(options.from, option: "--from", default: 0)
        let to = try bound(options.to, option: "--to", default: frames)
        guard from < to else { throw InferenceError.emptyRange(record: beats.record, from: from, to: to) }

        let window = classifier.settings.windowLength
        let stride = BeatDataset.featureNames.count
        let k = classifier.featureCount  // the model takes the first k of each beat's features
        var selected: [Int] = []
        var frameOf: [Int] = []
        for index in 0..<beats.count {
            let frame = Int((Double(beats.samples[index]) / frameScale).rounded())
            if frame >= from && frame < to {
                selected.append(index)
                frameOf.append(frame)
            }
        }
        var windows: [Float] = []
        var features: [Float] = []
        if selected.count == beats.count {
            windows = beats.windows
        } else {
            windows.reserveCapacity(selected.count * window)
            for index in selected { windows += beats.windows[(index * window)..<((index + 1) * window)] }
        }
        if k == stride && selected.count == beats.count {
            features = beats.features
        } else if k > 0 {
            features.reserveCapacity(selected.count * k)
            for index in selected { features += beats.features[(index * stride)..<(index * stride + k)] }
        }

        let classifyStart = clock.now
        let probabilities = try classifier.probabilities(
            windows: windows, features: features, count: selected.count, batchSize: options.batchSize,
            runtimes: runtimes)
        let classifySeconds = seconds(clock.now - classifyStart)

        let classCount = classifier.classes.count
        var predictions: [BeatPrediction] = []
        predictions.reserveCapacity(selected.count)
        var counts: [AAMIClass: Int] = [:]
        for (position, frame) in frameOf.enumerated() {
            let row = Array(probabilities[(position * classCount)..<((position + 1) * classCount)])
            var best = 0
            for offset in row.indices where row[offset] > row[best] { best = offset }
            let beatClass = classifier.classes[best]
            counts[beatClass, default: 0] += 1
            predictions.append(
                BeatPrediction(
                    sample: frame, time: Double(frame) / beats.frameRate, beatClass: beatClass,
                    probability: row[best], probabilities: row))
        }

        let duration = Double(to - from) / beats.frameRate
        var heartRate: Double?
        if let first = predictions.first, let last = predictions.last, predictions.count >= 2, last.time > first.time {
            heartRate = 60 * Double(predictions.count - 1) / (last.time - first.time)
        }
        let summary = InferenceSummary(
            beats: predictions.count, counts: counts, duration: duration, meanHeartRate: heartRate, rule: options.rule)

        var evaluation: InferenceEvaluation?
        if let reference = options.reference {
            evaluation = try evaluate(
                predictions, recordPath: recordPath, annotator: reference, frameRate: beats.frameRate,
                range: from..<to)
        }
        return RecordInferenceResult(
            record: beats.record, path: recordPath, lead: beats.lead, leadIndex: beats.leadIndex,
            frameRate: beats.frameRate, modelRate: beats.samplingRate, duration: duration,
            skipped: beats.counts.outOfBounds + beats.counts.invalid, beats: predictions, summary: summary,
            evaluation: evaluation, extractSeconds: extractSeconds, classifySeconds: classifySeconds)
    }

    /// Scores predictions against the reference annotations in `range` (frames). A detection that was not
    /// classified (its window did not fit) leaves its reference beat missed.
    static func evaluate(
        _ predictions: [BeatPrediction], recordPath: String, annotator: String, frameRate: Double, range: Range<Int>
    ) throws -> InferenceEvaluation {
        let location = RecordLocation(path: recordPath)
        let annotations: [Annotation]
        do {
            annotations = try AnnotationFile.read(record: location, annotator: annotator)
        } catch {
            throw BeatExtractionError.missingAnnotations(
                record: location.name, annotator: annotator, reason: "\(error)")
        }
        let reference = annotations.filter { BeatAnnotationSymbols.isBeat($0.symbol) && range.contains($0.sample) }
        let tolerance = Int((0.150 * frameRate).rounded())
        let matched = BeatExtraction.matchDetections(
            predictions.map(\.sample), to: reference.map(\.sample), within: tolerance)
        var evaluation = InferenceEvaluation.empty
        var used = [Bool](repeating: false, count: reference.count)
        for (index, match) in matched.enumerated() {
            guard let match else {
                evaluation.extra += 1
                continue
            }
            used[match] = true
            guard let truth = AAMILabelMap.standard.beatClass(for: reference[match].symbol) else {
                evaluation.unlabeled += 1
                continue
            }
            evaluation.confusion[truth.index][predictions[index].beatClass.index] += 1
        }
        for (index, annotation) in reference.enumerated() where !used[index] {
            if AAMILabelMap.standard.beatClass(for: annotation.symbol) == nil {
                evaluation.unlabeled += 1
            } else {
                evaluation.missed += 1
            }
        }
        return evaluation
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Writes the predictions as the WFDB annotation file `RECORD.EXT` (one annotation per beat, its symbol the
    /// beat's class) in `directory`, or next to the record when nil; returns the file's path.
    @discardableResult
    public static func writeAnnotations(_ result: RecordInferenceResult, annotator: String, directory: String?)
        throws -> String
    {
        let source = RecordLocation(path: result.path)
        let location = RecordLocation(directory: directory ?? source.directory, name: source.name)
        let annotations = result.beats.map {
            Annotation(sample: $0.sample, code: AnnotationCode.code(for: $0.beatClass.rawValue) ?? 1)
        }
        try AnnotationFile.write(annotations, record: location, annotator: annotator)
        return location.path(for: location.name + "." + annotator)
    }
}
