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
    /// The channels whose probabilities decided the beat (fused when more than one), ascending.
    public var leads: [Int] = []
}

/// How the per-lead probabilities of a beat become the beat's.
public enum LeadFusion: String, Sendable, CaseIterable {
    /// The mean over every lead the beat's window could be cut from.
    case mean
    /// The mean over the leads that read the beat cleanly: outside the lead's own low-quality stretches, and
    /// seen by the lead's own QRS detection within the matching window. Every lead when none does.
    case quality
}

/// One lead of a record as `pipe infer` used it.
public struct LeadUse: Equatable, Sendable {
    public var index: Int
    public var name: String
    /// Beats whose class this lead took part in deciding.
    public var beats: Int
    /// The lead's low-quality stretches (frames, over the range classified).
    public var unreadable: UnreadableStretches
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
    /// Seconds of `duration` inside the detection lead's low-quality stretches, and how many stretches.
    public var unreadableSeconds: Double
    public var lowQualityStretches: Int

    public init(
        beats: Int, counts: [AAMIClass: Int], duration: Double, meanHeartRate: Double?, rule: ArrhythmiaRule,
        unreadableSeconds: Double = 0, lowQualityStretches: Int = 0
    ) {
        self.beats = beats
        self.counts = counts
        self.duration = duration
        self.meanHeartRate = meanHeartRate
        self.rule = rule
        self.unreadableSeconds = unreadableSeconds
        self.lowQualityStretches = lowQualityStretches
    }

    /// How much of the signal could not be read reliably, as `pipe qrs` says it.
    public var unreadableSentence: String {
        UnreadableStretches.sentence(
            unreadableSeconds: unreadableSeconds, totalSeconds: duration, stretches: lowQualityStretches)
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
        sum.unreadableSeconds += right.unreadableSeconds
        sum.lowQualityStretches += right.lowQualityStretches
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
    /// The lead the beats were detected on.
    public var lead: String
    public var leadIndex: Int
    /// Every lead classified, the detection lead first; one unless lead fusion ran on a record with several.
    public var leads: [LeadUse]
    /// How the leads' probabilities were fused; nil when one lead was read.
    public var fusion: LeadFusion?
    /// The detection lead's low-quality stretches (frames, over the range classified).
    public var unreadable: UnreadableStretches
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
    /// One lead to read; nil (or `.all`) reads every lead of the record, the beats detected on the model's lead.
    public var lead: LeadSelection?
    public var fusion = LeadFusion.quality
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
        let extractStart = clock.now
        let leads: [RecordBeats]
        if let lead = options.lead, lead != .all {
            settings.lead = lead
            leads = [try BeatExtraction.extract(recordPath: recordPath, settings: settings)]
        } else {
            leads = try BeatExtraction.extractAtSharedPeaks(recordPath: recordPath, settings: settings)
        }
        let extractSeconds = seconds(clock.now - extractStart)
        let primary = leads[0]
        let frameRate = primary.frameRate

        // The range, in frames at the record's rate.
        let frames = Int((Double(primary.signalLength) / (primary.samplingRate / frameRate)).rounded())
        func bound(_ text: String?, option: String, default value: Int) throws -> Int {
            guard let text else { return value }
            guard let frame = SampleTime.parse(text, frequency: frameRate) else {
                throw InferenceError.badTime(record: primary.record, option: option, value: text)
            }
            return frame
        }
        let from = try bound(options.from, option: "--from", default: 0)
        let to = try bound(options.to, option: "--to", default: frames)
        guard from < to else { throw InferenceError.emptyRange(record: primary.record, from: from, to: to) }

        let allBeats = SharedBeat.group(leads)
        let inRange = allBeats.filter { $0.frame >= from && $0.frame < to }
        let classifyStart = clock.now
        let rows = try classify(inRange, of: leads, classifier: classifier, options: options, runtimes: runtimes)
        let classifySeconds = seconds(clock.now - classifyStart)

        let unreadable = leads.map { lead in
            UnreadableStretches(
                stretches: UnreadableStretches.frames(
                    ofSamples: lead.detection?.lowQualityStretches ?? [],
                    samplesPerFrame: lead.samplingRate / lead.frameRate),
                frameCount: frames, frequency: frameRate
            ).clipped(to: from..<to)
        }
        let fusion = leads.count > 1 ? options.fusion : nil
        let tolerance = Int((settings.matchWindow * frameRate).rounded())
        let confirmations = leads.map { lead in
            LeadConfirmation(lead: lead, frameRate: frameRate, tolerance: tolerance)
        }
        var predictions: [BeatPrediction] = []
        predictions.reserveCapacity(inRange.count)
        var counts: [AAMIClass: Int] = [:]
        var decided = [Int](repeating: 0, count: leads.count)
        for (beat, beatRows) in zip(inRange, rows) {
            var deciding = Array(beat.members.indices)
            if fusion == .quality {
                let clean = deciding.filter {
                    let lead = beat.members[$0].lead
                    return !unreadable[lead].contains(frame: beat.frame) && confirmations[lead].sees(frame: beat.frame)
                }
                if !clean.isEmpty { deciding = clean }
            }
            var row = [Float](repeating: 0, count: classifier.classes.count)
            for member in deciding {
                for offset in row.indices { row[offset] += beatRows[member][offset] }
            }
            if deciding.count > 1 {
                for offset in row.indices { row[offset] /= Float(deciding.count) }
            }
            var best = 0
            for offset in row.indices where row[offset] > row[best] { best = offset }
            let beatClass = classifier.classes[best]
            counts[beatClass, default: 0] += 1
            let channels = deciding.map { leads[beat.members[$0].lead].leadIndex }.sorted()
            for member in deciding { decided[beat.members[member].lead] += 1 }
            predictions.append(
                BeatPrediction(
                    sample: beat.frame, time: Double(beat.frame) / frameRate, beatClass: beatClass,
                    probability: row[best], probabilities: row, leads: channels))
        }

        let duration = Double(to - from) / frameRate
        var heartRate: Double?
        if let first = predictions.first, let last = predictions.last, predictions.count >= 2, last.time > first.time {
            heartRate = 60 * Double(predictions.count - 1) / (last.time - first.time)
        }
        let summary = InferenceSummary(
            beats: predictions.count, counts: counts, duration: duration, meanHeartRate: heartRate, rule: options.rule,
            unreadableSeconds: Double(unreadable[0].unreadableFrames) / frameRate,
            lowQualityStretches: unreadable[0].stretches.count)

        var evaluation: InferenceEvaluation?
        if let reference = options.reference {
            evaluation = try evaluate(
                predictions, recordPath: recordPath, annotator: reference, frameRate: frameRate, range: from..<to)
        }
        // A detection is left unclassified when no lead's window could be cut at it.
        let skipped =
            primary.counts.detections > 0
            ? max(0, primary.counts.detections - allBeats.count)
            : primary.counts.outOfBounds + primary.counts.invalid
        return RecordInferenceResult(
            record: primary.record, path: recordPath, lead: primary.lead, leadIndex: primary.leadIndex,
            leads: leads.indices.map {
                LeadUse(
                    index: leads[$0].leadIndex, name: leads[$0].lead, beats: decided[$0], unreadable: unreadable[$0])
            }, fusion: fusion, unreadable: unreadable[0], frameRate: frameRate, modelRate: primary.samplingRate,
            duration: duration, skipped: skipped, beats: predictions, summary: summary, evaluation: evaluation,
            extractSeconds: extractSeconds, classifySeconds: classifySeconds)
    }

    /// Each beat's probability rows, one per member lead (in `members` order): every lead's windows and features
    /// go to the model in one call.
    static func classify(
        _ beats: [SharedBeat], of leads: [RecordBeats], classifier: BeatClassifier, options: InferenceOptions,
        runtimes: [ONNXSession]
    ) throws -> [[[Float]]] {
        let window = classifier.settings.windowLength
        let stride = BeatDataset.featureNames.count
        let k = classifier.featureCount  // the model takes the first k of each beat's features
        var windows: [Float] = []
        var features: [Float] = []
        let count = beats.reduce(0) { $0 + $1.members.count }
        if leads.count == 1 && count == leads[0].count {
            windows = leads[0].windows
            if k == stride { features = leads[0].features }
        }
        if windows.isEmpty {
            windows.reserveCapacity(count * window)
            for beat in beats {
                for member in beat.members {
                    windows += leads[member.lead].windows[(member.index * window)..<((member.index + 1) * window)]
                }
            }
        }
        if features.isEmpty && k > 0 {
            features.reserveCapacity(count * k)
            for beat in beats {
                for member in beat.members {
                    features += leads[member.lead].features[(member.index * stride)..<(member.index * stride + k)]
                }
            }
        }
        let probabilities = try classifier.probabilities(
            windows: windows, features: features, count: count, batchSize: options.batchSize, runtimes: runtimes)
        let classCount = classifier.classes.count
        var rows: [[[Float]]] = []
        rows.reserveCapacity(beats.count)
        var position = 0
        for beat in beats {
            rows.append(
                beat.members.map { _ in
                    defer { position += 1 }
                    return Array(probabilities[(position * classCount)..<((position + 1) * classCount)])
                })
        }
        return rows
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
    /// beat's class, with the NOISE annotations of the detection lead's low-quality stretches) in `directory`, or
    /// next to the record when nil; returns the file's path.
    @discardableResult
    public static func writeAnnotations(_ result: RecordInferenceResult, annotator: String, directory: String?)
        throws -> String
    {
        let source = RecordLocation(path: result.path)
        let location = RecordLocation(directory: directory ?? source.directory, name: source.name)
        let beats = result.beats.map {
            Annotation(sample: $0.sample, code: AnnotationCode.code(for: $0.beatClass.rawValue) ?? 1)
        }
        let noise = NoiseAnnotations.marking(result.unreadable.stretches, signal: result.leadIndex)
        try AnnotationFile.write(
            NoiseAnnotations.merged(noise: noise, beats: beats), record: location, annotator: annotator)
        return location.path(for: location.name + "." + annotator)
    }
}
