import ECGSignal
import Foundation
import PipelineEngine

/// What `split: ds1-cv` measured: per fold, its DS1 records and the confusion of the model trained on the other
/// folds over their beats, overall and per rhythm. `ecg.train` keeps it in the checkpoint's metadata and
/// `ecg.evaluate` reports it, so that the CV mode never scores a beat outside DS1.
public struct CrossValidationResult: Equatable, Sendable {
    public struct Fold: Equatable, Sendable {
        public var records: [String]
        public var report: ClassificationReport
        public var rhythms: RhythmReport

        public init(records: [String], report: ClassificationReport, rhythms: RhythmReport) {
            self.records = records
            self.report = report
            self.rhythms = rhythms
        }
    }

    public var folds: [Fold]

    public init(folds: [Fold]) { self.folds = folds }

    /// Every DS1 beat scored once, by the model that did not see its patient: the folds' confusions summed.
    public func pooled() throws -> ClassificationReport {
        try ClassificationReport(confusion: Self.sum(folds.map(\.report.confusion)))
    }

    /// The folds' rhythm reports summed per rhythm.
    public func pooledRhythms() throws -> RhythmReport {
        var byRhythm: [String: [[[Int]]]] = [:]
        for fold in folds {
            for (rhythm, report) in fold.rhythms.reports { byRhythm[rhythm, default: []].append(report.confusion) }
        }
        return RhythmReport(
            reports: try byRhythm.keys.sorted().map { rhythm in
                (rhythm: rhythm, report: try ClassificationReport(confusion: Self.sum(byRhythm[rhythm] ?? [])))
            })
    }

    /// Mean and sample standard deviation (0 for one value) of `values`, which are not empty.
    static func meanAndDeviation(_ values: [Double]) -> (mean: Double, deviation: Double) {
        let mean = values.reduce(0, +) / Double(max(1, values.count))
        guard values.count > 1 else { return (mean, 0) }
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
        return (mean, variance.squareRoot())
    }

    static func sum(_ matrices: [[[Int]]]) -> [[Int]] {
        let size = AAMIClass.allCases.count
        var total = Array(repeating: Array(repeating: 0, count: size), count: size)
        for matrix in matrices {
            for row in 0..<size { for column in 0..<size { total[row][column] += matrix[row][column] } }
        }
        return total
    }

    // MARK: - Checkpoint metadata

    /// Metadata entries: `cv_fold_records` (each fold's records, folds split by `;`), `cv_fold_confusions` (each
    /// fold's 25 counts, rows truth), `cv_fold_rhythms` (per fold, `RHYTHM=25 counts` split by `,`).
    public var metadata: [String: String] {
        func counts(_ report: ClassificationReport) -> String {
            report.confusion.flatMap { $0 }.map(String.init).joined(separator: " ")
        }
        return [
            "cv_fold_records": folds.map { $0.records.joined(separator: " ") }.joined(separator: ";"),
            "cv_fold_confusions": folds.map { counts($0.report) }.joined(separator: ";"),
            "cv_fold_rhythms": folds.map { fold in
                fold.rhythms.reports.map { "\($0.rhythm)=\(counts($0.report))" }.joined(separator: ",")
            }.joined(separator: ";"),
        ]
    }

    /// The result `metadata` wrote; an error names the file and the entry that is missing or damaged.
    public init(metadata: [String: String], file: String) throws {
        func failure(_ key: String) -> StageFailure {
            StageFailure("\(file): the checkpoint's '\(key)' is missing or damaged (a ds1-cv training writes it)")
        }
        func report(_ text: Substring, key: String) throws -> ClassificationReport {
            let values = text.split(separator: " ").compactMap { Int($0) }
            let size = AAMIClass.allCases.count
            guard values.count == size * size,
                let report = try? ClassificationReport(
                    confusion: (0..<size).map { Array(values[($0 * size)..<(($0 + 1) * size)]) })
            else { throw failure(key) }
            return report
        }
        guard let records = metadata["cv_fold_records"], let confusions = metadata["cv_fold_confusions"],
            let rhythms = metadata["cv_fold_rhythms"]
        else { throw failure("cv_fold_records") }
        let recordLists = records.split(separator: ";", omittingEmptySubsequences: false)
        let confusionLists = confusions.split(separator: ";", omittingEmptySubsequences: false)
        let rhythmLists = rhythms.split(separator: ";", omittingEmptySubsequences: false)
        guard !recordLists.isEmpty, confusionLists.count == recordLists.count, rhythmLists.count == recordLists.count
        else { throw failure("cv_fold_confusions") }
        folds = try (0..<recordLists.count).map { index in
            let rhythmReports = try rhythmLists[index].split(separator: ",").map { entry in
                let parts = entry.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { throw failure("cv_fold_rhythms") }
                return (rhythm: String(parts[0]), report: try report(parts[1], key: "cv_fold_rhythms"))
            }
            return Fold(
                records: recordLists[index].split(separator: " ").map(String.init),
                report: try report(confusionLists[index], key: "cv_fold_confusions"),
                rhythms: RhythmReport(reports: rhythmReports))
        }
    }

    // MARK: - eval.json

    /// The `metrics/eval.json` members besides the pooled report: `folds` (per fold its `records`, `n`,
    /// `accuracy`, `macro_f1` and `classes` with `se` and `ppv`), then `cv_mean` and `cv_sd` of those scores over
    /// the folds (sample standard deviation; a class's Se and +P over the folds that hold it).
    var jsonMembers: [(String, ReportJSON)] {
        func scores(_ report: ClassificationReport) -> [(String, Double?)] {
            var result: [(String, Double?)] = [("accuracy", report.accuracy), ("macro_f1", report.macroF1)]
            for metrics in report.perClass {
                let present = metrics.support > 0
                result.append(("\(metrics.beatClass.rawValue)_se", present ? metrics.sensitivity : nil))
                result.append(("\(metrics.beatClass.rawValue)_ppv", present ? metrics.positivePredictivity : nil))
            }
            return result
        }
        let foldEntries = folds.map { fold -> ReportJSON in
            let perClass = fold.report.perClass.map { metrics -> (String, ReportJSON) in
                (
                    metrics.beatClass.rawValue,
                    .object([
                        ("se", .number(metrics.sensitivity)), ("ppv", .number(metrics.positivePredictivity)),
                        ("support", .integer(metrics.support)),
                    ])
                )
            }
            return .object([
                ("records", .inlineArray(fold.records.map { .string($0) })), ("n", .integer(fold.report.count)),
                ("accuracy", .number(fold.report.accuracy)), ("macro_f1", .number(fold.report.macroF1)),
                ("classes", .object(perClass)),
            ])
        }
        let perFold = folds.map { scores($0.report) }
        var means: [(String, ReportJSON)] = []
        var deviations: [(String, ReportJSON)] = []
        for (position, (name, _)) in (perFold.first ?? []).enumerated() {
            let values = perFold.compactMap { $0[position].1 }
            guard !values.isEmpty else { continue }
            let (mean, deviation) = Self.meanAndDeviation(values)
            means.append((name, .number(mean)))
            deviations.append((name, .number(deviation)))
        }
        return [("folds", .array(foldEntries)), ("cv_mean", .object(means)), ("cv_sd", .object(deviations))]
    }

    /// Per fold, one log line: its records, beats, accuracy and the S and V scores; then mean ± sd.
    public func table() -> String {
        var text = ""
        for (index, fold) in folds.enumerated() {
            let s = fold.report.metrics(for: .S)
            let v = fold.report.metrics(for: .V)
            text += "fold \(index + 1) [\(fold.records.joined(separator: " "))]: "
            text += String(
                format: "%d beats, accuracy %.4f, S Se %.3f +P %.3f, V Se %.3f +P %.3f\n", fold.report.count,
                fold.report.accuracy, s.sensitivity, s.positivePredictivity, v.sensitivity, v.positivePredictivity)
        }
        let (mean, deviation) = Self.meanAndDeviation(folds.map(\.report.accuracy))
        text += String(format: "accuracy over the folds: %.4f ± %.4f\n", mean, deviation)
        return text
    }
}
