import ECGSignal
import ECGStages
import Foundation

/// Number and time formats shared by the inference reports.
public enum InferenceFormat {
    /// `hh:mm:ss.mmm`.
    public static func clock(_ seconds: Double) -> String {
        let milliseconds = Int((max(0, seconds) * 1000).rounded())
        return String(
            format: "%02d:%02d:%02d.%03d", milliseconds / 3_600_000, milliseconds / 60_000 % 60,
            milliseconds / 1000 % 60, milliseconds % 1000)
    }

    /// `18.1 %`, `0.25 %` below one percent.
    public static func percent(_ value: Double) -> String {
        value > 0 && value < 1 ? String(format: "%.2f %%", value) : String(format: "%.1f %%", value)
    }

    static func rounded(_ value: Double, _ digits: Int) -> Double {
        let scale = pow(10, Double(digits))
        return (value * scale).rounded() / scale
    }
}

/// How `pipe infer` prints what it found: text for people, JSON for programs, CSV for spreadsheets.
public enum InferenceReport {
    /// One record in full: a header, one line per beat (unless `summaryOnly`), the summary and verdict.
    public static func text(_ result: RecordInferenceResult, model: BeatClassifier, summaryOnly: Bool) -> String {
        var lines: [String] = []
        lines.append(
            "record \(result.record): \(InferenceFormat.clock(result.duration)), \(leadsDescription(result)), "
                + "\(number(result.frameRate)) Hz"
                + (result.modelRate != result.frameRate ? " (resampled to \(number(result.modelRate)) Hz)" : ""))
        lines.append("model \(model.path)\(modelDescription(model))")
        let fused = result.fusion != nil
        if !summaryOnly && !result.beats.isEmpty {
            lines.append("time          sample  class  probability" + (fused ? "  leads" : ""))
            for beat in result.beats {
                lines.append(
                    InferenceFormat.clock(beat.time) + "  " + pad(String(beat.sample), 8) + "  "
                        + beat.beatClass.rawValue + "      " + String(format: "%.3f", beat.probability)
                        + (fused ? "        " + channels(beat.leads) : ""))
            }
        }
        for stretch in result.unreadable.stretches {
            lines.append(
                "low quality " + InferenceFormat.clock(Double(stretch.lowerBound) / result.frameRate) + "-"
                    + InferenceFormat.clock(Double(stretch.upperBound) / result.frameRate)
                    + " (samples \(stretch.lowerBound)-\(stretch.upperBound))")
        }
        lines += summaryLines(result.summary)
        if fused {
            lines.append(
                "leads deciding: "
                    + result.leads.map { "\($0.name) (channel \($0.index)) \($0.beats) beats" }.joined(separator: ", ")
                    + " of \(result.summary.beats)")
        }
        if result.skipped > 0 {
            lines.append("not classified: \(result.skipped) detections too close to the record's ends or invalid")
        }
        if let evaluation = result.evaluation { lines += evaluationLines(evaluation) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Many records: one line per record, then the total and its verdict.
    public static func table(_ results: [RecordInferenceResult], total: InferenceSummary, model: BeatClassifier)
        -> String
    {
        var lines = ["model \(model.path)\(modelDescription(model))"]
        let classes = AAMIClass.allCases
        lines.append(
            pad("record", -8) + pad("duration", 14) + pad("beats", 8)
                + classes.map { pad($0.rawValue, 8) }.joined() + pad("HR bpm", 8) + pad("unread", 8)
                + "  arrhythmia  leads")
        func row(_ name: String, _ summary: InferenceSummary, leads: String) -> String {
            let unread = summary.duration > 0 ? 100 * summary.unreadableSeconds / summary.duration : 0
            return pad(name, -8) + pad(InferenceFormat.clock(summary.duration), 14) + pad(String(summary.beats), 8)
                + classes.map { pad(String(summary.count($0)), 8) }.joined()
                + pad(summary.meanHeartRate.map { String(format: "%.0f", $0) } ?? "-", 8)
                + pad(String(format: "%.1f %%", unread), 8) + "  "
                + pad(summary.arrhythmia ? "present" : "absent", -10) + "  " + leads
        }
        for result in results {
            lines.append(row(result.record, result.summary, leads: result.leads.map(\.name).joined(separator: "+")))
        }
        lines.append(row("total", total, leads: ""))
        lines += summaryLines(total).dropFirst(2)
        if let evaluation = results.compactMap(\.evaluation).reduce(nil, { ($0 ?? .empty) + $1 }) {
            lines += evaluationLines(evaluation)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func summaryLines(_ summary: InferenceSummary) -> [String] {
        guard summary.beats > 0 else {
            return [
                "no beats detected", "arrhythmia: absent (no beats to classify; rule: \(summary.rule))",
                "signal quality: " + summary.unreadableSentence,
            ]
        }
        let counts = AAMIClass.allCases.map {
            "\($0.rawValue) \(summary.count($0)) (\(InferenceFormat.percent(summary.share($0))))"
        }
        var lines = [
            "beats: \(summary.beats) · " + counts.joined(separator: " · "),
            "mean heart rate: " + (summary.meanHeartRate.map { String(format: "%.0f bpm", $0) } ?? "-"),
            "arrhythmia: \(summary.arrhythmia ? "present" : "absent") (rule: \(summary.rule); here "
                + "\(InferenceFormat.percent(summary.burden)))",
        ]
        for finding in summary.findings {
            lines.append(
                "  \(finding.rawValue): \(summary.count(finding)) beats (\(InferenceFormat.percent(summary.share(finding))))"
            )
        }
        lines.append("signal quality: " + summary.unreadableSentence)
        return lines
    }

    static func evaluationLines(_ evaluation: InferenceEvaluation) -> [String] {
        guard let report = try? ClassificationReport(confusion: evaluation.confusion) else { return [] }
        var lines = [
            "against the reference (detections matched within 150 ms): \(report.count) matched beats, "
                + "\(evaluation.missed) missed, \(evaluation.extra) extra, \(evaluation.unlabeled) unlabelled",
            String(format: "accuracy %.4f · macro-F1 %.4f", report.accuracy, report.macroF1),
            "class  support     Se      +P      F1",
        ]
        for metrics in report.perClass {
            lines.append(
                pad(metrics.beatClass.rawValue, -5) + pad(String(metrics.support), 9)
                    + String(
                        format: "  %.4f  %.4f  %.4f", metrics.sensitivity, metrics.positivePredictivity, metrics.f1))
        }
        lines.append("confusion (rows truth, columns prediction, N S V F Q):")
        for (index, row) in evaluation.confusion.enumerated() {
            lines.append("  \(AAMIClass.allCases[index].rawValue) " + row.map { pad(String($0), 8) }.joined())
        }
        return lines
    }

    /// `{"model": {...}, "records": [...], "total": {...}}`; beats are left out when `summaryOnly`.
    public static func json(
        _ results: [RecordInferenceResult], total: InferenceSummary, model: BeatClassifier, summaryOnly: Bool
    ) throws -> String {
        var modelObject: [String: Any] = [
            "path": model.path, "window": model.settings.windowLength, "sampling_rate": model.samplingRate,
            "classes": model.classes.map(\.rawValue), "rr_features": model.featureCount,
        ]
        if let architecture = model.metadata["architecture"] { modelObject["architecture"] = architecture }
        let records: [[String: Any]] = results.map { result in
            var object: [String: Any] = [
                "record": result.record, "path": result.path, "lead": result.lead, "lead_index": result.leadIndex,
                "fusion": result.fusion?.rawValue ?? NSNull(),
                "leads": result.leads.map { lead -> [String: Any] in
                    [
                        "index": lead.index, "name": lead.name, "beats": lead.beats,
                        "unreadable_fraction": InferenceFormat.rounded(lead.unreadable.fraction, 4),
                    ]
                },
                "low_quality": result.unreadable.stretches.map { stretch -> [String: Any] in
                    [
                        "start": stretch.lowerBound, "end": stretch.upperBound,
                        "start_time": InferenceFormat.clock(Double(stretch.lowerBound) / result.frameRate),
                        "end_time": InferenceFormat.clock(Double(stretch.upperBound) / result.frameRate),
                    ]
                },
                "unreadable_fraction": InferenceFormat.rounded(result.unreadable.fraction, 4),
                "sampling_rate": result.frameRate, "duration_s": InferenceFormat.rounded(result.duration, 3),
                "not_classified": result.skipped, "summary": summaryObject(result.summary),
                "seconds": [
                    "extract": InferenceFormat.rounded(result.extractSeconds, 6),
                    "classify": InferenceFormat.rounded(result.classifySeconds, 6),
                ],
            ]
            if !summaryOnly {
                object["beats"] = result.beats.map { beat -> [String: Any] in
                    [
                        "time": InferenceFormat.clock(beat.time), "sample": beat.sample,
                        "class": beat.beatClass.rawValue,
                        "probability": InferenceFormat.rounded(Double(beat.probability), 4), "leads": beat.leads,
                    ]
                }
            }
            if let evaluation = result.evaluation { object["evaluation"] = evaluationObject(evaluation) }
            return object
        }
        var document: [String: Any] = ["model": modelObject, "records": records, "total": summaryObject(total)]
        if let evaluation = results.compactMap(\.evaluation).reduce(nil, { ($0 ?? .empty) + $1 }) {
            document["evaluation"] = evaluationObject(evaluation)
        }
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func summaryObject(_ summary: InferenceSummary) -> [String: Any] {
        var counts: [String: Int] = [:]
        for beatClass in AAMIClass.allCases { counts[beatClass.rawValue] = summary.count(beatClass) }
        var object: [String: Any] = [
            "beats": summary.beats, "counts": counts, "duration_s": InferenceFormat.rounded(summary.duration, 3),
            "arrhythmia": summary.arrhythmia, "rule": summary.rule.description,
            "burden_percent": InferenceFormat.rounded(summary.burden, 3),
            "unreadable_s": InferenceFormat.rounded(summary.unreadableSeconds, 3),
            "low_quality_stretches": summary.lowQualityStretches, "quality": summary.unreadableSentence,
            "findings": summary.findings.map { finding -> [String: Any] in
                [
                    "class": finding.rawValue, "beats": summary.count(finding),
                    "percent": InferenceFormat.rounded(summary.share(finding), 3),
                ]
            },
        ]
        object["mean_heart_rate_bpm"] = summary.meanHeartRate.map { InferenceFormat.rounded($0, 1) } ?? NSNull()
        return object
    }

    static func evaluationObject(_ evaluation: InferenceEvaluation) -> [String: Any] {
        var object: [String: Any] = [
            "missed": evaluation.missed, "extra": evaluation.extra, "unlabeled": evaluation.unlabeled,
            "confusion": evaluation.confusion,
        ]
        if let report = try? ClassificationReport(confusion: evaluation.confusion) {
            object["matched"] = report.count
            object["accuracy"] = report.accuracy
            object["macro_f1"] = report.macroF1
            var perClass: [String: Any] = [:]
            for metrics in report.perClass {
                perClass[metrics.beatClass.rawValue] = [
                    "se": metrics.sensitivity, "ppv": metrics.positivePredictivity, "f1": metrics.f1,
                    "support": metrics.support,
                ]
            }
            object["per_class"] = perClass
        }
        return object
    }

    /// Beats as CSV (`record,time,sample,class,probability,p_N,…`), or one row per record when `summaryOnly`.
    public static func csv(_ results: [RecordInferenceResult], model: BeatClassifier, summaryOnly: Bool) -> String {
        var lines: [String] = []
        if summaryOnly {
            lines.append(
                "record,duration_s,beats," + AAMIClass.allCases.map(\.rawValue).joined(separator: ",")
                    + ",mean_heart_rate_bpm,arrhythmia,unreadable_s,leads")
            for result in results {
                let summary = result.summary
                lines.append(
                    ([result.record, String(format: "%.3f", summary.duration), String(summary.beats)]
                        + AAMIClass.allCases.map { String(summary.count($0)) }
                        + [
                            summary.meanHeartRate.map { String(format: "%.1f", $0) } ?? "",
                            summary.arrhythmia ? "present" : "absent",
                            String(format: "%.3f", summary.unreadableSeconds),
                            result.leads.map { String($0.index) }.joined(separator: "+"),
                        ]).joined(separator: ","))
            }
        } else {
            lines.append(
                "record,time,sample,class,probability,"
                    + model.classes.map { "p_\($0.rawValue)" }.joined(separator: ",") + ",leads")
            for result in results {
                for beat in result.beats {
                    lines.append(
                        ([
                            result.record, InferenceFormat.clock(beat.time), String(beat.sample),
                            beat.beatClass.rawValue, String(format: "%.4f", beat.probability),
                        ] + beat.probabilities.map { String(format: "%.4f", $0) } + [channels(beat.leads)])
                        .joined(separator: ","))
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `lead MLII (channel 0)`, or `leads MLII (channel 0) + V1 (channel 1), detected on MLII, fused by quality`.
    static func leadsDescription(_ result: RecordInferenceResult) -> String {
        guard let fusion = result.fusion else { return "lead \(result.lead) (channel \(result.leadIndex))" }
        return "leads " + result.leads.map { "\($0.name) (channel \($0.index))" }.joined(separator: " + ")
            + ", detected on \(result.lead), fused by \(fusion.rawValue)"
    }

    /// `0+1`.
    static func channels(_ leads: [Int]) -> String { leads.map(String.init).joined(separator: "+") }

    private static func modelDescription(_ model: BeatClassifier) -> String {
        var parts = [
            "window \(model.settings.windowLength) at \(number(model.samplingRate)) Hz",
            model.settings.normalization.rawValue,
            model.featureCount > 0 ? "window + \(model.featureCount) RR features" : "window only",
        ]
        if let architecture = model.metadata["architecture"], !architecture.isEmpty {
            parts.insert(architecture, at: 0)
        }
        return " (" + parts.joined(separator: ", ") + ")"
    }

    private static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    /// Right-aligned to `width`, or left-aligned to `-width`.
    private static func pad(_ text: String, _ width: Int) -> String {
        let fill = String(repeating: " ", count: max(0, abs(width) - text.count))
        return width < 0 ? text + fill : fill + text
    }
}
