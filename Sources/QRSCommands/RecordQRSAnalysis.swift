import ECGSignal
import Foundation
import Parallel
import WFDB

/// Why a record cannot be analysed for QRS complexes; bad input (exit 2).
public enum QRSAnalysisError: Error, Equatable, CustomStringConvertible {
    /// The lead's rate (frames per second × samples per frame) is outside `ECGSamplingRate.usable`.
    case unusableSamplingRate(header: String, rate: Double)
    /// A clean record and a noise record that cannot be mixed sample for sample.
    case noiseRecordMismatch(clean: String, noise: String, reason: String)
    /// No normal beat of the reference annotations gives a QRS amplitude to scale the noise to.
    case noQRSAmplitude(record: String, signal: Int, annotator: String)
    /// A noise signal without amplitude cannot be scaled to an SNR.
    case silentNoise(record: String, signal: Int)

    public var description: String {
        switch self {
        case .unusableSamplingRate(let header, let rate):
            return
                "\(header): sampling rate \(rate) Hz is outside \(ECGSamplingRate.rangeText), where QRS complexes can be "
                + "detected"
        case .noiseRecordMismatch(let clean, let noise, let reason):
            return "\(clean) and \(noise) cannot be mixed: \(reason)"
        case .noQRSAmplitude(let record, let signal, let annotator):
            return
                "\(record): signal \(signal) has no normal beat (N, L, R, e, j) in annotator '\(annotator)' to measure the "
                + "QRS amplitude on"
        case .silentNoise(let record, let signal):
            return "\(record): noise signal \(signal) has no amplitude (constant, or shorter than a second)"
        }
    }
}

/// The detections of one record's lead.
public struct RecordDetections: Equatable, Sendable {
    /// Record name (the header's base name).
    public var record: String
    /// Index and description of the lead the detector ran on.
    public var leadIndex: Int
    public var leadName: String
    /// Frames per second of the record.
    public var samplingFrequency: Double
    /// R-peak frame numbers, ascending.
    public var peaks: [Int]
    /// Frames where the signal was too noisy to read reliably (the detector's low-quality stretches), ascending.
    public var lowQualityStretches: [Range<Int>] = []
    /// Frames in the record.
    public var frameCount: Int = 0
    /// Wall-clock seconds spent in the detector alone (not in reading the record).
    public var detectionSeconds: Double

    /// The low-quality stretches over the record.
    public var unreadable: UnreadableStretches {
        UnreadableStretches(stretches: lowQualityStretches, frameCount: frameCount, frequency: samplingFrequency)
    }

    /// The share of the record inside low-quality stretches, 0...1.
    public var unreadableFraction: Double { unreadable.fraction }
}

/// One record's bxb counts.
public struct RecordEvaluation: Equatable, Sendable {
    public var record: String
    public var result: BeatMatchResult
    public var detectionSeconds: Double
    /// The share of the record the detector found too noisy to read (its low-quality stretches), 0...1.
    public var unreadableFraction: Double = 0
}

/// Per-record and gross bxb counts over several records, in the order the records were given.
public struct QRSEvaluation: Equatable, Sendable {
    public var records: [RecordEvaluation]
    public var gross: BeatMatchResult { records.reduce(BeatMatchResult()) { $0 + $1.result } }
}

/// Runs the QRS detector on WFDB records and compares it with their reference annotations.
///
/// This is the glue between the file layer (WFDB) and the signal layer (ECGSignal), kept out of the
/// command structs so tests and future stages call it in-process.
public enum RecordQRSAnalysis {
    /// The lead to analyse: `lead` as a signal name or index when given; otherwise MLII when the record has
    /// it (channel 0 is V5 in records 102, 104 and 114), else channel 0.
    public static func leadIndex(of record: WFDBRecord, lead: String?) throws -> Int {
        if let lead { return try record.signalIndex(lead) }
        if let index = record.signals.firstIndex(where: { $0.description == "MLII" }) { return index }
        guard !record.signals.isEmpty else { throw WFDBError.unknownSignal(record: record.headerPath, signal: "0") }
        return 0
    }

    /// Detects the R peaks of `recordPath` (a path without extension or ending in `.hea`).
    public static func detect(recordPath: String, lead: String?, configuration: QRSDetector.Configuration = .init())
        throws -> RecordDetections
    {
        let record = try WFDBRecord.open(recordPath)
        let index = try leadIndex(of: record, lead: lead)
        let block = try record.read(signals: [index])
        guard let channel = block.channels.first else {
            throw WFDBError.unknownSignal(record: record.headerPath, signal: String(index))
        }
        let samplesPerFrame = max(1, channel.samplesPerFrame)
        let rate = record.header.samplingFrequency * Double(samplesPerFrame)
        // The detector sizes its windows in seconds: a rate out of range means useless detections or huge windows.
        guard ECGSamplingRate.isUsable(rate) else {
            throw QRSAnalysisError.unusableSamplingRate(header: record.headerPath, rate: rate)
        }
        let samples = channel.physical()
        let clock = ContinuousClock()
        var analysis = QRSAnalysis(beats: [], blockLength: 1, noiseRatio: [], lowQualityStretches: [])
        let elapsed = clock.measure {
            analysis = QRSDetector(samplingRate: rate, configuration: configuration).analyze(samples)
        }
        var peaks = analysis.beats
        // Signals with several samples per frame are detected at their own rate; annotations count frames.
        if samplesPerFrame > 1 {
            var frames: [Int] = []
            for peak in peaks where frames.last != peak / samplesPerFrame { frames.append(peak / samplesPerFrame) }
            peaks = frames
        }
        let stretches = UnreadableStretches.frames(
            ofSamples: analysis.lowQualityStretches, samplesPerFrame: Double(samplesPerFrame))
        return RecordDetections(
            record: record.location.name, leadIndex: index, leadName: record.signals[index].description,
            samplingFrequency: record.header.samplingFrequency, peaks: peaks, lowQualityStretches: stretches,
            frameCount: block.frameCount,
            detectionSeconds: Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds))
    }

    /// The WFDB noise annotations of `detections`' low-quality stretches (`NoiseAnnotations.marking`).
    public static func noiseAnnotations(_ detections: RecordDetections) -> [Annotation] {
        NoiseAnnotations.marking(detections.lowQualityStretches, signal: detections.leadIndex)
    }

    /// Writes the detections as annotation file `<record>.<annotator>` (every beat labelled N, with the noise
    /// annotations of the low-quality stretches) in `directory`, or next to the record when nil; returns the
    /// file's path.
    @discardableResult
    public static func writeAnnotations(
        _ detections: RecordDetections, recordPath: String, annotator: String, directory: String?
    ) throws -> String {
        let source = RecordLocation(path: recordPath)
        let location = RecordLocation(directory: directory ?? source.directory, name: source.name)
        let normal = AnnotationCode.code(for: "N") ?? 1
        let beats = detections.peaks.map { Annotation(sample: $0, code: normal) }
        let annotations = NoiseAnnotations.merged(noise: noiseAnnotations(detections), beats: beats)
        try AnnotationFile.write(annotations, record: location, annotator: annotator)
        return location.path(for: location.name + "." + annotator)
    }

    /// Detects and matches one record against its `reference` annotator; the first five minutes are left out
    /// unless `includeAll`.
    public static func evaluate(
        recordPath: String, reference: String, lead: String?, includeAll: Bool,
        configuration: QRSDetector.Configuration = .init()
    ) throws -> RecordEvaluation {
        let detections = try detect(recordPath: recordPath, lead: lead, configuration: configuration)
        let annotations = try AnnotationFile.read(record: RecordLocation(path: recordPath), annotator: reference)
        let referenceBeats = ReferenceBeats(annotations: annotations.map { (sample: $0.sample, symbol: $0.symbol) })
        let matcher = BeatMatcher(samplingRate: detections.samplingFrequency, startTime: includeAll ? 0 : 300)
        return RecordEvaluation(
            record: detections.record, result: matcher.match(reference: referenceBeats, detected: detections.peaks),
            detectionSeconds: detections.detectionSeconds, unreadableFraction: detections.unreadableFraction)
    }

    /// `evaluate` over many records, in parallel across cores; results keep the order of `recordPaths`.
    /// When records fail, the error of the first failing record (in the given order) is thrown.
    public static func evaluate(
        recordPaths: [String], reference: String, lead: String?, includeAll: Bool,
        configuration: QRSDetector.Configuration = .init()
    ) throws -> QRSEvaluation {
        let records = try parallelMap(count: recordPaths.count) { index in
            try evaluate(
                recordPath: recordPaths[index], reference: reference, lead: lead, includeAll: includeAll,
                configuration: configuration)
        }
        return QRSEvaluation(records: records)
    }
}
