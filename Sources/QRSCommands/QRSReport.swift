import ECGSignal
import Foundation

/// Text and JSON renderings of detections and evaluations (shared by the `qrs` commands).
public enum QRSReport {
    /// `hh:mm:ss.mmm` for a frame number (always with hours, so the column lines up).
    public static func clock(frame: Int, frequency: Double) -> String {
        let milliseconds = Int((Double(frame) / frequency * 1000).rounded())
        let hours = milliseconds / 3_600_000
        let minutes = milliseconds / 60_000 % 60
        let seconds = milliseconds / 1000 % 60
        let fraction = milliseconds % 1000
        return String(format: "%02d:%02d:%02d.%03d", hours, minutes, seconds, fraction)
    }

    /// One line per beat: time, then sample number.
    public static func lines(_ detections: RecordDetections) -> String {
        var text = ""
        text.reserveCapacity(detections.peaks.count * 24)
        for peak in detections.peaks {
            text += clock(frame: peak, frequency: detections.samplingFrequency)
            text += " "
            text += String(peak)
            text += "\n"
        }
        for stretch in detections.lowQualityStretches {
            text += "# low quality " + clock(frame: stretch.lowerBound, frequency: detections.samplingFrequency) + "-"
            text += clock(frame: stretch.upperBound, frequency: detections.samplingFrequency)
            text += " (samples \(stretch.lowerBound)-\(stretch.upperBound))\n"
        }
        text += "# " + verdict(detections) + "\n"
        return text
    }

    /// One sentence: the beats found and how much of the record could not be read.
    public static func verdict(_ detections: RecordDetections) -> String {
        "\(detections.peaks.count) beats; " + detections.unreadable.sentence
    }

    struct DetectionsDocument: Encodable {
        struct Beat: Encodable {
            var time: String
            var sample: Int
        }
        var record: String
        var lead: String
        var leadIndex: Int
        var samplingFrequency: Double
        struct Stretch: Encodable {
            var start: Int
            var end: Int
            var startTime: String
            var endTime: String
        }
        var count: Int
        var beats: [Beat]
        var lowQuality: [Stretch]
        var unreadableFraction: Double
        var verdict: String
    }

    public static func json(_ detections: RecordDetections) -> String {
        let document = DetectionsDocument(
            record: detections.record, lead: detections.leadName, leadIndex: detections.leadIndex,
            samplingFrequency: detections.samplingFrequency, count: detections.peaks.count,
            beats: detections.peaks.map {
                .init(time: clock(frame: $0, frequency: detections.samplingFrequency), sample: $0)
            },
            lowQuality: detections.lowQualityStretches.map {
                .init(
                    start: $0.lowerBound, end: $0.upperBound,
                    startTime: clock(frame: $0.lowerBound, frequency: detections.samplingFrequency),
                    endTime: clock(frame: $0.upperBound, frequency: detections.samplingFrequency))
            }, unreadableFraction: detections.unreadableFraction, verdict: verdict(detections))
        return encode(document)
    }

    static func percent(_ value: Double?) -> String {
        value.map { String(format: "%.2f", $0) } ?? "-"
    }

    /// Per-record rows and a gross row: TP, FN, FP, Se %, +P %.
    public static func table(_ evaluation: QRSEvaluation) -> String {
        func row(_ name: String, _ result: BeatMatchResult) -> String {
            let columns = [
                name.padding(toLength: max(8, name.count), withPad: " ", startingAt: 0),
                leftPad(String(result.truePositives), 7), leftPad(String(result.falseNegatives), 6),
                leftPad(String(result.falsePositives), 6), leftPad(percent(result.sensitivity), 7),
                leftPad(percent(result.positivePredictivity), 7),
            ]
            return columns.joined(separator: " ") + "\n"
        }
        var text = "record        TP     FN     FP     Se%    +P%\n"
        for record in evaluation.records { text += row(record.record, record.result) }
        text += row("gross", evaluation.gross)
        return text
    }

    static func leftPad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    struct Counts: Encodable {
        var record: String?
        var tp: Int
        var fn: Int
        var fp: Int
        var se: Double?
        var ppv: Double?
        var detectionSeconds: Double?
        var unreadableFraction: Double?

        init(record: String?, result: BeatMatchResult, detectionSeconds: Double?, unreadableFraction: Double? = nil) {
            self.record = record
            tp = result.truePositives
            fn = result.falseNegatives
            fp = result.falsePositives
            se = result.sensitivity
            ppv = result.positivePredictivity
            self.detectionSeconds = detectionSeconds
            self.unreadableFraction = unreadableFraction
        }
    }

    struct EvaluationDocument: Encodable {
        var records: [Counts]
        var gross: Counts
    }

    public static func json(_ evaluation: QRSEvaluation) -> String {
        encode(
            EvaluationDocument(
                records: evaluation.records.map {
                    Counts(
                        record: $0.record, result: $0.result, detectionSeconds: $0.detectionSeconds,
                        unreadableFraction: $0.unreadableFraction)
                },
                gross: Counts(record: nil, result: evaluation.gross, detectionSeconds: nil)))
    }

    static func encode<Document: Encodable>(_ document: Document) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(document) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

extension QRSReport {
    /// One line per signal of a noise stress record, like `nst`'s: `[rec R, sig i] = [clean, sig i] + s * [noise]`.
    public static func lines(_ summary: NoiseStressSummary) -> String {
        var text =
            "\(summary.record): SNR \(NoiseStressRecord.formatSNR(summary.snr)) dB, \(summary.stretches.count) noisy stretches\n"
        for signal in summary.signals {
            text += String(
                format: "  signal %d: + %.6g x noise signal %d (QRS p-p %.4g, noise RMS %.4g)", signal.index,
                signal.scale, signal.noiseIndex, signal.qrsAmplitude, signal.noiseAmplitude)
            if signal.clippedSamples > 0 { text += ", \(signal.clippedSamples) samples clipped" }
            text += "\n"
        }
        return text
    }
}
