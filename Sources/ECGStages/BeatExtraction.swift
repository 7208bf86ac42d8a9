import ECGSignal
import Foundation
import WFDB

/// Which lead of a record the beats are cut from.
public enum LeadSelection: Equatable, Sendable, CustomStringConvertible {
    /// The signal whose description is the name; when `fallbackToFirst`, channel 0 if no signal has that name.
    case named(String, fallbackToFirst: Bool)
    /// A signal by its 0-based index.
    case index(Int)
    /// Every signal of the record, each beat cut from each (`BeatExtraction.extractEveryLead`): a preprocess
    /// setting for training on any lead. Extracting one lead refuses it.
    case all

    /// MLII when the record has it, else channel 0 (channel 0 is V5 in records 102, 104 and 114).
    public static let preferMLII = LeadSelection.named("MLII", fallbackToFirst: true)

    /// A param or option value: digits select by index, `all` every lead, anything else by name.
    public init(text: String, fallbackToFirst: Bool) {
        if text == "all" {
            self = .all
        } else if let index = Int(text), index >= 0 {
            self = .index(index)
        } else {
            self = .named(text, fallbackToFirst: fallbackToFirst)
        }
    }

    public var description: String {
        switch self {
        case .named(let name, let fallback): return fallback ? "\(name), else channel 0" : name
        case .index(let index): return "channel \(index)"
        case .all: return "every lead"
        }
    }
}

/// Where the R peaks come from.
public enum PeakSource: String, Sendable, CaseIterable {
    /// The reference beat annotations (`.atr`).
    case annotated
    /// The QRS detector; with labels, each detection takes the class of the reference beat within the window.
    case detected
}

/// How beats are cut from a record; shared by `ecg.preprocess` and `pipe infer` so both see the same inputs.
public struct BeatExtractionSettings: Equatable, Sendable {
    public var lead = LeadSelection.preferMLII
    public var windowLength = 187
    /// Resample the lead to this rate first; nil keeps the record's own rate.
    public var targetRate: Double?
    public var normalization = BeatWindowNormalization.minMax
    public var peaks = PeakSource.annotated
    /// Symbols to classes; nil extracts unlabelled beats (inference), which needs no annotation file.
    public var labels: AAMILabelMap? = .standard
    /// Detected-to-reference matching window, seconds.
    public var matchWindow = 0.150
    public var annotator = "atr"
    /// Beats over which the local mean RR interval is taken.
    public var localBeats = 10
    /// Beats on each side whose intervals the RR variability is measured over.
    public var variabilityBeats = 8

    public init() {}
}

/// What extraction left out of one record, and why.
public struct BeatExtractionCounts: Equatable, Sendable, Codable {
    /// Beat annotations in the reference (annotated peaks, or the reference of detected peaks).
    public var referenceBeats = 0
    /// Detections made (detected peaks only).
    public var detections = 0
    /// Beats whose symbol the label map leaves out (`B`, `r`, `n`, `?` with the standard map).
    public var unlabeled = 0
    /// Detections with no reference beat within the matching window: dropped.
    public var unmatchedDetections = 0
    /// Windows that would cross the record's start or end.
    public var outOfBounds = 0
    /// Windows holding invalid samples.
    public var invalid = 0

    public init() {}

    public static func + (left: BeatExtractionCounts, right: BeatExtractionCounts) -> BeatExtractionCounts {
        var sum = left
        sum.referenceBeats += right.referenceBeats
        sum.detections += right.detections
        sum.unlabeled += right.unlabeled
        sum.unmatchedDetections += right.unmatchedDetections
        sum.outOfBounds += right.outOfBounds
        sum.invalid += right.invalid
        return sum
    }
}

/// The beats cut from one record.
public struct RecordBeats: Sendable {
    public var record: String
    public var lead: String
    public var leadIndex: Int
    /// Rate of `samples` and of the windows, Hz.
    public var samplingRate: Double
    /// The record's own rate of the lead, Hz.
    public var sourceRate: Double
    /// The record's frame rate (what its annotations count), Hz.
    public var frameRate: Double
    /// Length of the lead at `samplingRate`, samples.
    public var signalLength: Int
    /// [count] R-peak sample numbers at `samplingRate`.
    public var samples: [Int]
    /// [count] classes; nil for unlabelled extraction.
    public var labels: [AAMIClass?]
    /// [count] the reference's rhythm at each beat (`RhythmLabels`: `N`, `AFIB`, …); "" where the reference
    /// names none or was not read (unlabelled extraction).
    public var rhythms: [String]
    /// [count × 18] RR, morphology, RR-variability and atrial-activity features (`BeatDataset.featureNames`).
    public var features: [Float]
    /// [count × windowLength] normalised windows.
    public var windows: [Float]
    public var counts: BeatExtractionCounts
    /// The QRS detector's pass over this lead (at `samplingRate`): its own R peaks and the low-quality stretches
    /// it found too noisy to read reliably. Nil with annotated peaks, where the detector does not run.
    public var detection: QRSAnalysis?

    public var count: Int { samples.count }
}

/// Errors that stop a record's extraction.
public enum BeatExtractionError: Error, Equatable, CustomStringConvertible {
    case recordTooShort(record: String, samples: Int, window: Int)
    case missingAnnotations(record: String, annotator: String, reason: String)
    case badSamplingRate(record: String, rate: Double)
    case oneLeadNeeded(record: String)

    public var description: String {
        switch self {
        case .recordTooShort(let record, let samples, let window):
            return "\(record): the record has \(samples) samples, shorter than one \(window)-sample window"
        case .missingAnnotations(let record, let annotator, let reason):
            return "\(record): labels need the reference annotations \(record).\(annotator): \(reason)"
        case .oneLeadNeeded(let record):
            return "\(record): 'all' leads is a preprocess setting; one lead is read here (a name or an index)"
        case .badSamplingRate(let record, let rate):
            return
                "\(record): sampling rate \(rate) Hz is outside \(ECGSamplingRate.rangeText), where ECG beats can be cut"
        }
    }
}

/// Cuts labelled (or unlabelled) beat windows with RR features out of WFDB records.
public enum BeatExtraction {
    /// Opens `recordPath` (without extension, or ending in `.hea`) and extracts its beats.
    public static func extract(recordPath: String, settings: BeatExtractionSettings) throws -> RecordBeats {
        let lead = try readLead(recordPath: recordPath, settings: settings)
        let (rhythm, kept, counts) = try peaks(of: lead, settings: settings)
        return cut(lead, rhythm: rhythm, kept: kept, settings: settings, counts: counts)
    }

    /// The lead's rhythm, the beats of it to cut, and the counts so far.
    static func peaks(of lead: LeadSignal, settings: BeatExtractionSettings) throws -> (
        rhythm: Rhythm, kept: [Int], counts: BeatExtractionCounts
    ) {
        let reference = try referenceAnnotations(of: lead, settings: settings)
        var counts = BeatExtractionCounts()
        counts.referenceBeats = reference.beats.count
        let rhythm = rhythm(of: lead, reference: reference, settings: settings, counts: &counts)
        let kept = keptBeats(of: rhythm, settings: settings, counts: &counts)
        return (rhythm, kept, counts)
    }

    /// Every lead of the record cut at the same R peaks, found once on the lead `settings` selects (detected
    /// there, or annotated): each window is centred on the same instant in each lead, and the RR features,
    /// which only the peaks decide, are the same in each. The first element is the selecting lead's beats, then
    /// the other leads in channel order; a signal whose units are not a voltage (a blood pressure in mmHg, a
    /// respiration or oxygen saturation signal) is not an ECG lead and is left out. With detected peaks, each lead's own low-quality stretches are
    /// analysed by the detector too (`RecordBeats.detection`).
    public static func extractAtSharedPeaks(recordPath: String, settings: BeatExtractionSettings) throws
        -> [RecordBeats]
    {
        let primary = try readLead(recordPath: recordPath, settings: settings)
        let (rhythm, kept, counts) = try peaks(of: primary, settings: settings)
        var leads = [cut(primary, rhythm: rhythm, kept: kept, settings: settings, counts: counts)]
        let signals = primary.record.signals
        for index in signals.indices where index != primary.leadIndex && isVoltage(signals[index].units) {
            var single = settings
            single.lead = .index(index)
            let lead = try readLead(recordPath: recordPath, settings: single)
            var shared = rhythm
            if lead.scale != primary.scale {
                shared.peaks = rhythm.peaks.map { Int((Double($0) / primary.scale * lead.scale).rounded()) }
            }
            if settings.peaks == .detected {
                shared.detection = QRSDetector(samplingRate: lead.rate).analyze(withoutInvalidSamples(lead.signal))
            }
            leads.append(cut(lead, rhythm: shared, kept: kept, settings: settings, counts: counts))
        }
        return leads
    }

    /// Whether a signal's units are a voltage, as an ECG lead's are.
    static func isVoltage(_ units: String) -> Bool {
        ["V", "mV", "uV", "µV", "μV", "nV"].contains(units.trimmingCharacters(in: .whitespaces))
    }

    /// The windows of the `kept` beats of the rhythm, cut from the lead, with their features.
    static func cut(
        _ lead: LeadSignal, rhythm: Rhythm, kept: [Int], settings: BeatExtractionSettings,
        counts: BeatExtractionCounts
    ) -> RecordBeats {
        var counts = counts
        // firstStart 1: the original project kept a beat only when `peak > half window`, and its counts are the
        // reference this stage reproduces.
        let windows = BeatWindowExtractor(
            length: settings.windowLength, normalization: settings.normalization, firstStart: 1
        ).extract(from: lead.signal, peaks: kept.map { rhythm.peaks[$0] })
        counts.outOfBounds = windows.skippedOutOfBounds
        counts.invalid = windows.skippedInvalid
        var result = beats(of: lead, rhythm: rhythm, kept: kept, windows: windows, settings: settings, counts: counts)
        result.detection = rhythm.detection
        return result
    }

    /// Each lead of the record in turn (`lead: all`), in channel order: the beats of every lead.
    public static func extractEveryLead(recordPath: String, settings: BeatExtractionSettings) throws -> [RecordBeats] {
        let record = try WFDBRecord.open(recordPath)
        return try record.signals.indices.map { index in
            var single = settings
            single.lead = .index(index)
            return try extract(recordPath: recordPath, settings: single)
        }
    }

    /// A record's chosen lead in physical units at the rate beats are cut at.
    struct LeadSignal {
        var record: WFDBRecord
        var leadIndex: Int
        var signal: [Double]
        /// The rate of `signal` (the target rate, or the lead's own), Hz.
        var rate: Double
        /// The lead's own rate, Hz.
        var sourceRate: Double
        /// `signal` samples per frame: annotations count frames, a lead with several samples per frame, or a
        /// resampled one, counts its own.
        var scale: Double
    }

    /// The lead `settings` selects, in physical units, resampled to the target rate when it has another.
    static func readLead(recordPath: String, settings: BeatExtractionSettings) throws -> LeadSignal {
        let record = try WFDBRecord.open(recordPath)
        let leadIndex = try selectLead(of: record, settings.lead)
        let block = try record.read(signals: [leadIndex])
        guard let channel = block.channels.first else {
            throw WFDBError.unknownSignal(record: record.headerPath, signal: String(leadIndex))
        }
        let samplesPerFrame = max(1, channel.samplesPerFrame)
        let sourceRate = record.header.samplingFrequency * Double(samplesPerFrame)
        let name = record.location.name
        // A rate out of range would make the resampler or the detector ask for absurd amounts of memory.
        guard ECGSamplingRate.isUsable(sourceRate) else {
            throw BeatExtractionError.badSamplingRate(record: record.headerPath, rate: sourceRate)
        }
        if let target = settings.targetRate, !ECGSamplingRate.isUsable(target) {
            throw BeatExtractionError.badSamplingRate(record: "target rate", rate: target)
        }
        var signal = channel.physical()
        var rate = sourceRate
        if let target = settings.targetRate, target != sourceRate {
            signal = Resampler(inputRate: sourceRate, outputRate: target).resample(signal)
            rate = target
        }
        // Annotations count frames; a lead with several samples per frame, or a resampled one, counts its own.
        let scale = rate / record.header.samplingFrequency
        guard signal.count >= settings.windowLength else {
            throw BeatExtractionError.recordTooShort(record: name, samples: signal.count, window: settings.windowLength)
        }
        return LeadSignal(
            record: record, leadIndex: leadIndex, signal: signal, rate: rate, sourceRate: sourceRate, scale: scale)
    }

    /// What the reference annotation file says, at the lead's rate.
    struct Reference {
        /// The beat annotations: sample and symbol.
        var beats: [(sample: Int, symbol: String)] = []
        /// The rhythm changes: sample and label (`RhythmLabels.label`).
        var rhythmChanges: [(sample: Int, label: String)] = []
    }

    /// The reference beats and rhythm changes, when labels or annotated peaks need them; none otherwise.
    static func referenceAnnotations(of lead: LeadSignal, settings: BeatExtractionSettings) throws -> Reference {
        guard settings.labels != nil || settings.peaks == .annotated else { return Reference() }
        let annotations: [Annotation]
        do {
            annotations = try AnnotationFile.read(record: lead.record.location, annotator: settings.annotator)
        } catch {
            throw BeatExtractionError.missingAnnotations(
                record: lead.record.location.name, annotator: settings.annotator, reason: "\(error)")
        }
        func sample(_ annotation: Annotation) -> Int { Int((Double(annotation.sample) * lead.scale).rounded()) }
        var reference = Reference()
        for annotation in annotations {
            if BeatAnnotationSymbols.isBeat(annotation.symbol) {
                reference.beats.append((sample: sample(annotation), symbol: annotation.symbol))
            } else if annotation.symbol == "+", let label = annotation.aux.flatMap(RhythmLabels.label(aux:)) {
                reference.rhythmChanges.append((sample: sample(annotation), label: label))
            }
        }
        return reference
    }

    /// Every beat the peak source gives, labelled or not, with its RR features. `labels[i]` is the class of
    /// `peaks[i]`, nil when unknown.
    struct Rhythm {
        var peaks: [Int]
        var labels: [AAMIClass?]
        var features: [RRFeatures]
        var variability: [RRVariability]
        /// The reference's rhythm label at each peak ("" where it names none).
        var rhythmLabels: [String]
        /// The detector's pass over the lead; nil with annotated peaks.
        var detection: QRSAnalysis?
    }

    /// The rhythm: the annotated beats, or the detected ones matched to the reference for their labels. RR
    /// features are taken over every beat of it, as inference (which has no labels) does.
    static func rhythm(
        of lead: LeadSignal, reference: Reference, settings: BeatExtractionSettings,
        counts: inout BeatExtractionCounts
    ) -> Rhythm {
        let beats = reference.beats
        var peaks: [Int]
        var labels: [AAMIClass?]
        var detection: QRSAnalysis?
        switch settings.peaks {
        case .annotated:
            peaks = beats.map(\.sample)
            labels = beats.map { settings.labels?.beatClass(for: $0.symbol) }
        case .detected:
            let analysis = QRSDetector(samplingRate: lead.rate).analyze(withoutInvalidSamples(lead.signal))
            peaks = analysis.beats
            detection = analysis
            counts.detections = peaks.count
            labels = Array(repeating: nil, count: peaks.count)
            if let map = settings.labels {
                let matched = matchDetections(
                    peaks, to: beats.map(\.sample), within: Int((settings.matchWindow * lead.rate).rounded()))
                for (index, referenceIndex) in matched.enumerated() {
                    if let referenceIndex { labels[index] = map.beatClass(for: beats[referenceIndex].symbol) }
                }
                counts.unmatchedDetections = matched.filter { $0 == nil }.count
                counts.unlabeled = zip(matched, labels).filter { $0.0 != nil && $0.1 == nil }.count
            }
        }
        let features = RRFeatureExtractor.features(
            peaks: peaks, samplingRate: lead.rate, localBeats: settings.localBeats)
        return Rhythm(
            peaks: peaks, labels: labels, features: features,
            variability: RRVariabilityExtractor.variability(
                peaks: peaks, samplingRate: lead.rate, beats: settings.variabilityBeats),
            rhythmLabels: RhythmLabels.assign(beats: peaks, changes: reference.rhythmChanges),
            detection: detection)
    }

    /// Indices into the rhythm of the beats to cut: all of them, or the labelled ones when labels are asked for.
    static func keptBeats(of rhythm: Rhythm, settings: BeatExtractionSettings, counts: inout BeatExtractionCounts)
        -> [Int]
    {
        var kept: [Int] = []
        for index in rhythm.peaks.indices {
            if settings.labels != nil, rhythm.labels[index] == nil {
                if settings.peaks == .annotated { counts.unlabeled += 1 }
                continue
            }
            kept.append(index)
        }
        return kept
    }

    /// The beats whose windows were cut: sample, label, and the RR, morphology, RR-variability and
    /// atrial-activity features of each.
    static func beats(
        of lead: LeadSignal, rhythm: Rhythm, kept: [Int], windows: BeatWindows, settings: BeatExtractionSettings,
        counts: BeatExtractionCounts
    ) -> RecordBeats {
        let record = lead.record
        var result = RecordBeats(
            record: record.location.name, lead: record.signals[lead.leadIndex].description, leadIndex: lead.leadIndex,
            samplingRate: lead.rate, sourceRate: lead.sourceRate, frameRate: record.header.samplingFrequency,
            signalLength: lead.signal.count, samples: [], labels: [], rhythms: [], features: [],
            windows: windows.samples,
            counts: counts)
        result.samples.reserveCapacity(windows.count)
        result.features.reserveCapacity(windows.count * BeatDataset.featureNames.count)
        let morphology = BeatMorphology.features(
            windows: windows.samples, length: settings.windowLength,
            amplitudes: windows.amplitudes,
            qrsHalfWidth: Int((0.05 * lead.rate).rounded()))
        let shapeCount = BeatMorphology.featureNames.count
        let atrial = AtrialActivity.features(
            windows: windows.samples, length: settings.windowLength, samplingRate: lead.rate)
        let atrialCount = AtrialActivity.featureNames.count
        for (position, keptIndex) in windows.peakIndices.enumerated() {
            let source = kept[keptIndex]
            result.samples.append(rhythm.peaks[source])
            result.labels.append(rhythm.labels[source])
            result.rhythms.append(rhythm.rhythmLabels[source])
            let rr = rhythm.features[source]
            result.features.append(Float(rr.previous))
            result.features.append(Float(rr.next))
            result.features.append(Float(rr.localMean))
            result.features.append(Float(rr.previousRatio))
            result.features.append(Float(rr.nextRatio))
            result.features += morphology[(position * shapeCount)..<((position + 1) * shapeCount)]
            let variability = rhythm.variability[source]
            result.features.append(Float(variability.spread))
            result.features.append(Float(variability.successive))
            result.features.append(Float(variability.prematurity))
            result.features.append(Float(variability.pause))
            result.features += atrial[(position * atrialCount)..<((position + 1) * atrialCount)]
        }
        return result
    }

    /// The index of the lead to use; a name that is not in the header is an error unless it may fall back.
    public static func selectLead(of record: WFDBRecord, _ selection: LeadSelection) throws -> Int {
        switch selection {
        case .index(let index):
            return try record.signalIndex(String(index))
        case .named(let name, let fallbackToFirst):
            if let index = record.signals.firstIndex(where: { $0.description == name }) { return index }
            guard fallbackToFirst, !record.signals.isEmpty else {
                throw WFDBError.unknownSignal(record: record.headerPath, signal: name)
            }
            return 0
        case .all:
            throw BeatExtractionError.oneLeadNeeded(record: record.headerPath)
        }
    }

    /// For each detection, the reference beat it matches: the nearest unused one within `tolerance` samples.
    /// Both inputs ascend; a reference beat matches at most one detection, the nearest.
    public static func matchDetections(_ detections: [Int], to reference: [Int], within tolerance: Int) -> [Int?] {
        var result = [Int?](repeating: nil, count: detections.count)
        var owner = [Int?](repeating: nil, count: reference.count)  // detection index holding each reference
        var cursor = 0
        for (index, detection) in detections.enumerated() {
            while cursor < reference.count, reference[cursor] < detection - tolerance { cursor += 1 }
            var best: Int?
            var candidate = cursor
            while candidate < reference.count, reference[candidate] <= detection + tolerance {
                if best.map({ abs(reference[candidate] - detection) < abs(reference[$0] - detection) }) ?? true {
                    best = candidate
                }
                candidate += 1
            }
            guard let chosen = best else { continue }
            if let previous = owner[chosen] {
                // Keep the closer detection; ties keep the earlier one.
                guard abs(detections[previous] - reference[chosen]) > abs(detection - reference[chosen]) else {
                    continue
                }
                result[previous] = nil
            }
            owner[chosen] = index
            result[index] = chosen
        }
        return result
    }

    /// The signal with each invalid (NaN) sample replaced by the last valid one, for the detector's filters.
    static func withoutInvalidSamples(_ signal: [Double]) -> [Double] {
        guard signal.contains(where: { !$0.isFinite }) else { return signal }
        var clean = signal
        var last = signal.first { $0.isFinite } ?? 0
        for index in clean.indices {
            if clean[index].isFinite { last = clean[index] } else { clean[index] = last }
        }
        return clean
    }
}
