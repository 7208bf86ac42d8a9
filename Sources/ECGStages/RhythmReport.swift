import ECGSignal
import Foundation

/// Beat classification scored per reference rhythm (`N`, `AFIB`, `AFL`, `SVTA`, `B`, `T`, …), and the rate at
/// which normal beats inside atrial fibrillation are called S: an irregular rhythm read as premature beats.
public struct RhythmReport: Equatable, Sendable {
    /// The rhythm whose normal beats `afibFalseS` counts.
    public static let atrialFibrillation = "AFIB"

    /// One report per rhythm label that the scored beats carry, sorted by label; beats of no known rhythm are
    /// left out.
    public let reports: [(rhythm: String, report: ClassificationReport)]

    /// `rhythms[i]` is the rhythm of beat `i` of `truth` and `predicted` (class indices, N S V F Q), nil when none
    /// is known.
    public init(truth: [Int], predicted: [Int], rhythms: [String?]) throws {
        guard truth.count == rhythms.count else {
            throw ClassificationReportError.lengthMismatch(truth: rhythms.count, predicted: truth.count)
        }
        var truthByRhythm: [String: [Int]] = [:]
        var predictedByRhythm: [String: [Int]] = [:]
        for (beat, rhythm) in rhythms.enumerated() {
            guard let rhythm, beat < predicted.count else { continue }
            truthByRhythm[rhythm, default: []].append(truth[beat])
            predictedByRhythm[rhythm, default: []].append(predicted[beat])
        }
        reports = try truthByRhythm.keys.sorted().map { rhythm in
            (
                rhythm: rhythm,
                report: try ClassificationReport(
                    truth: truthByRhythm[rhythm] ?? [], predicted: predictedByRhythm[rhythm] ?? [])
            )
        }
    }

    /// Reports already grouped by rhythm, sorted here by label.
    public init(reports: [(rhythm: String, report: ClassificationReport)]) {
        self.reports = reports.sorted { $0.rhythm < $1.rhythm }
    }

    public static func == (left: RhythmReport, right: RhythmReport) -> Bool {
        left.reports.map(\.rhythm) == right.reports.map(\.rhythm)
            && left.reports.map(\.report) == right.reports.map(\.report)
    }

    /// Normal beats inside atrial fibrillation called S, and the normal beats there; nil when the scored beats
    /// hold none.
    public var afibFalseS: (calledS: Int, normalBeats: Int)? {
        guard let report = reports.first(where: { $0.rhythm == Self.atrialFibrillation })?.report else { return nil }
        let row = report.confusion[AAMIClass.N.index]
        let normalBeats = row.reduce(0, +)
        guard normalBeats > 0 else { return nil }
        return (row[AAMIClass.S.index], normalBeats)
    }

    /// The members `metrics/eval.json` gains: `per_rhythm` (per label: `n`, `accuracy` and `classes`, each class
    /// with `se`, `ppv` and `support`), and when `(AFIB` holds normal beats, `afib_false_s_rate` with
    /// `afib_normal_beats`. (`classes`, not `per_class`: the run report reads `per_class` as an evaluation.)
    var jsonMembers: [(String, ReportJSON)] {
        guard !reports.isEmpty else { return [] }
        let perRhythm = reports.map { rhythm, report -> (String, ReportJSON) in
            let classes = report.perClass.map { metrics -> (String, ReportJSON) in
                (
                    metrics.beatClass.rawValue,
                    .object([
                        ("se", .number(metrics.sensitivity)), ("ppv", .number(metrics.positivePredictivity)),
                        ("support", .integer(metrics.support)),
                    ])
                )
            }
            return (
                rhythm,
                .object([
                    ("n", .integer(report.count)), ("accuracy", .number(report.accuracy)),
                    ("classes", .object(classes)),
                ])
            )
        }
        var members: [(String, ReportJSON)] = [("per_rhythm", .object(perRhythm))]
        if let afib = afibFalseS {
            members.append(("afib_false_s_rate", .number(Double(afib.calledS) / Double(afib.normalBeats))))
            members.append(("afib_normal_beats", .integer(afib.normalBeats)))
        }
        return members
    }

    /// One line per rhythm for the log: beats, accuracy, and Se / +P of each class the rhythm holds.
    public func table() -> String {
        var text = ""
        for (rhythm, report) in reports {
            text += rhythm.padding(toLength: 6, withPad: " ", startingAt: 0)
            text += String(format: "%7d beats  acc %6.2f%%", report.count, report.accuracy * 100)
            for metrics in report.perClass where metrics.support > 0 {
                text +=
                    "  \(metrics.beatClass.rawValue) "
                    + String(format: "%.1f/%.1f", metrics.sensitivity * 100, metrics.positivePredictivity * 100)
            }
            text += "\n"
        }
        if let afib = afibFalseS {
            text += String(
                format: "N beats inside (AFIB called S: %d of %d (%.2f%%)\n", afib.calledS, afib.normalBeats,
                100 * Double(afib.calledS) / Double(afib.normalBeats))
        }
        return text
    }
}
