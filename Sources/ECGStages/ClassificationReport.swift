import ECGSignal
import Foundation
import JSONText

/// Errors in the inputs of a classification report.
public enum ClassificationReportError: Error, Equatable, CustomStringConvertible {
    /// The truth and prediction lists differ in length.
    case lengthMismatch(truth: Int, predicted: Int)
    /// A class index outside 0..<5 (N S V F Q) at `position` of the truth or prediction list.
    case classIndexOutOfRange(list: String, position: Int, value: Int)
    /// A confusion matrix that is not 5 × 5 or holds a negative count.
    case badConfusionMatrix(String)

    public var description: String {
        switch self {
        case .lengthMismatch(let truth, let predicted):
            return "classification report: \(truth) true labels but \(predicted) predictions"
        case .classIndexOutOfRange(let list, let position, let value):
            return "classification report: \(list) label \(value) at position \(position) is not a class index "
                + "(0..<\(AAMIClass.allCases.count), N S V F Q)"
        case .badConfusionMatrix(let reason):
            return "classification report: bad confusion matrix: \(reason)"
        }
    }
}

/// One class's one-vs-rest counts and scores. Scores are fractions in [0, 1]; a 0/0 ratio is 0.
public struct ClassMetrics: Equatable, Sendable {
    public var beatClass: AAMIClass
    /// Beats of this class predicted as this class.
    public var truePositives: Int
    /// Beats of this class predicted as another class.
    public var falseNegatives: Int
    /// Beats of another class predicted as this class.
    public var falsePositives: Int

    /// Beats of this class in the truth: TP + FN.
    public var support: Int { truePositives + falseNegatives }

    /// Sensitivity (recall) TP / (TP + FN); 0 when the class has no support.
    public var sensitivity: Double { ratio(truePositives, truePositives + falseNegatives) }

    /// Positive predictivity (precision) TP / (TP + FP); 0 when the class is never predicted.
    public var positivePredictivity: Double { ratio(truePositives, truePositives + falsePositives) }

    /// F1 = 2·Se·+P / (Se + +P), computed as 2TP / (2TP + FP + FN) (the same value, without the rounding of
    /// the two ratios); 0 when TP, FP and FN are all 0.
    public var f1: Double { ratio(2 * truePositives, 2 * truePositives + falsePositives + falseNegatives) }
}

/// 0/0 is defined as 0 throughout the report: a score that cannot be measured counts as not achieved, so
/// it can never make a model look better (and the JSON never holds NaN).
private func ratio(_ numerator: Int, _ denominator: Int) -> Double {
    denominator == 0 ? 0 : Double(numerator) / Double(denominator)
}

/// Confusion matrix and per-class scores of a beat classifier over the AAMI classes N, S, V, F, Q.
///
/// Rows of `confusion` are the true class, columns the predicted class, both in `AAMIClass.allCases` order.
public struct ClassificationReport: Equatable, Sendable {
    /// The classes, in row and column order.
    public static let classes = AAMIClass.allCases

    /// `confusion[truth][predicted]`: beat counts, 5 × 5.
    public let confusion: [[Int]]

    /// Counts every (truth, prediction) pair of class indices (`AAMIClass.index`: N 0, S 1, V 2, F 3, Q 4).
    /// Throws when the lists differ in length or hold an index outside 0..<5.
    public init(truth: [Int], predicted: [Int]) throws {
        guard truth.count == predicted.count else {
            throw ClassificationReportError.lengthMismatch(truth: truth.count, predicted: predicted.count)
        }
        let classCount = Self.classes.count
        var matrix = Array(repeating: Array(repeating: 0, count: classCount), count: classCount)
        for (position, (trueIndex, predictedIndex)) in zip(truth, predicted).enumerated() {
            guard (0..<classCount).contains(trueIndex) else {
                throw ClassificationReportError.classIndexOutOfRange(list: "true", position: position, value: trueIndex)
            }
            guard (0..<classCount).contains(predictedIndex) else {
                throw ClassificationReportError.classIndexOutOfRange(
                    list: "predicted", position: position, value: predictedIndex)
            }
            matrix[trueIndex][predictedIndex] += 1
        }
        confusion = matrix
    }

    /// Counts every (truth, prediction) pair of classes; throws only when the lists differ in length.
    public init(truth: [AAMIClass], predicted: [AAMIClass]) throws {
        try self.init(truth: truth.map(\.index), predicted: predicted.map(\.index))
    }

    /// A report over an existing 5 × 5 confusion matrix (rows truth, columns prediction) of non-negative counts.
    public init(confusion: [[Int]]) throws {
        let classCount = Self.classes.count
        guard confusion.count == classCount, confusion.allSatisfy({ $0.count == classCount }) else {
            let shape = confusion.map { String($0.count) }.joined(separator: ",")
            throw ClassificationReportError.badConfusionMatrix(
                "expected \(classCount) rows of \(classCount) counts, got row lengths [\(shape)]")
        }
        guard confusion.allSatisfy({ $0.allSatisfy { $0 >= 0 } }) else {
            throw ClassificationReportError.badConfusionMatrix("negative count")
        }
        self.confusion = confusion
    }

    /// Number of beats scored.
    public var count: Int { confusion.reduce(0) { $0 + $1.reduce(0, +) } }

    /// Beats whose prediction is their true class, over all beats; 0 when there are none.
    public var accuracy: Double {
        ratio(Self.classes.indices.reduce(0) { $0 + confusion[$1][$1] }, count)
    }

    /// The one-vs-rest counts of one class.
    public func metrics(for beatClass: AAMIClass) -> ClassMetrics {
        let index = beatClass.index
        let truePositives = confusion[index][index]
        let rowTotal = confusion[index].reduce(0, +)
        let columnTotal = confusion.reduce(0) { $0 + $1[index] }
        return ClassMetrics(
            beatClass: beatClass, truePositives: truePositives, falseNegatives: rowTotal - truePositives,
            falsePositives: columnTotal - truePositives)
    }

    /// Every class's metrics, in N S V F Q order.
    public var perClass: [ClassMetrics] { Self.classes.map { metrics(for: $0) } }

    /// Mean F1 over the classes that occur in the truth (support > 0); 0 when no class does.
    ///
    /// A class absent from the test set has no F1 worth averaging: counting it as 0 would punish the model
    /// for the split, counting it as 1 would reward it for nothing. Its false positives are not lost: each one
    /// is a false negative of the beat's true class, which does take part in the mean. (scikit-learn instead
    /// averages over the classes present in truth or predictions; the two agree whenever every predicted
    /// class also occurs in the truth.)
    public var macroF1: Double {
        let scored = perClass.filter { $0.support > 0 }
        guard !scored.isEmpty else { return 0 }
        return scored.reduce(0) { $0 + $1.f1 } / Double(scored.count)
    }

    // MARK: - JSON

    /// The `metrics/eval.json` document: keys `accuracy`, `confusion`, `macro_f1`, `n`, `per_class`
    /// (`N` … `Q`, each with `f1`, `ppv`, `se`, `support`) and `split`, sorted at every level, indented by two
    /// spaces, each confusion row on one line, ending with a newline. Doubles are written in their shortest
    /// form that reads back to the same value; every score is finite (0/0 is 0).
    public func json(split: String) -> String { json(split: split, extra: []) }

    /// The `metrics/eval.json` document with more top-level members (the per-rhythm breakdown).
    func json(split: String, extra: [(String, ReportJSON)]) -> String {
        var perClassMembers: [(String, ReportJSON)] = []
        for metrics in perClass {
            perClassMembers.append(
                (
                    metrics.beatClass.rawValue,
                    .object([
                        ("se", .number(metrics.sensitivity)), ("ppv", .number(metrics.positivePredictivity)),
                        ("f1", .number(metrics.f1)), ("support", .integer(metrics.support)),
                    ])
                ))
        }
        let document = ReportJSON.object(
            [
                ("split", .string(split)), ("n", .integer(count)), ("accuracy", .number(accuracy)),
                ("macro_f1", .number(macroF1)), ("per_class", .object(perClassMembers)),
                ("confusion", .array(confusion.map { .inlineArray($0.map { .integer($0) }) })),
            ] + extra)
        var text = ""
        document.write(to: &text, indent: "")
        return text + "\n"
    }

    // MARK: - Text table

    /// A plain-text report for logs and the README: per-class Se, +P and F1 in percent with the support,
    /// accuracy and macro F1, then the confusion matrix (rows truth, columns predicted).
    public func table() -> String {
        func percent(_ value: Double) -> String { String(format: "%.2f", value * 100) }
        func pad(_ text: String, _ width: Int) -> String {
            String(repeating: " ", count: max(0, width - text.count)) + text
        }
        var text = "class" + pad("Se%", 8) + pad("+P%", 8) + pad("F1%", 8) + pad("support", 10) + "\n"
        for metrics in perClass {
            text += metrics.beatClass.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)
            text += pad(percent(metrics.sensitivity), 8) + pad(percent(metrics.positivePredictivity), 8)
            text += pad(percent(metrics.f1), 8) + pad(String(metrics.support), 10) + "\n"
        }
        text += "accuracy \(percent(accuracy))%   macro F1 \(percent(macroF1))%   n \(count)\n"
        text += "\nconfusion (rows: truth, columns: predicted)\n"
        let width = max(8, String(confusion.flatMap { $0 }.max() ?? 0).count + 2)
        text += "truth" + Self.classes.map { pad($0.rawValue, width) }.joined() + "\n"
        for (beatClass, row) in zip(Self.classes, confusion) {
            text += beatClass.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)
            text += row.map { pad(String($0), width) }.joined() + "\n"
        }
        return text
    }
}

/// Just enough of a JSON writer to control key order, indentation and number text exactly (JSONEncoder
/// puts every array element on its own line and differs across Foundation versions in how it writes doubles).
enum ReportJSON {
    case object([(String, ReportJSON)])
    case array([ReportJSON])
    /// An array written on one line (a confusion row).
    case inlineArray([ReportJSON])
    case string(String)
    case integer(Int)
    case number(Double)

    /// Appends the value; objects' members are sorted by key.
    func write(to text: inout String, indent: String) {
        switch self {
        case .object(let members):
            let sorted = members.sorted(by: { $0.0 < $1.0 })
            Self.writeLines(of: sorted.map { (Self.quoted($0.0) + ": ", $0.1) }, in: "{}", to: &text, indent: indent)
        case .array(let elements):
            Self.writeLines(of: elements.map { ("", $0) }, in: "[]", to: &text, indent: indent)
        case .inlineArray(let elements):
            text += "["
            for (position, element) in elements.enumerated() {
                if position > 0 { text += ", " }
                element.write(to: &text, indent: indent)
            }
            text += "]"
        case .string(let value):
            text += Self.quoted(value)
        case .integer(let value):
            text += String(value)
        case .number(let value):
            text += Self.number(value)
        }
    }

    /// An object's members or an array's elements, one per line at `indent` + 2, each after its prefix (`"key": `
    /// or nothing), between the two brackets of `brackets`; `{}` or `[]` when there are none.
    private static func writeLines(
        of items: [(prefix: String, value: ReportJSON)], in brackets: String, to text: inout String, indent: String
    ) {
        guard !items.isEmpty, let open = brackets.first, let close = brackets.last else {
            text += brackets
            return
        }
        let inner = indent + "  "
        text += String(open) + "\n"
        for (position, item) in items.enumerated() {
            text += inner + item.prefix
            item.value.write(to: &text, indent: inner)
            text += position == items.count - 1 ? "\n" : ",\n"
        }
        text += indent + String(close)
    }

    /// The shortest decimal text that reads back as `value` (Swift's `description`); `null` for NaN and
    /// infinities, which JSON cannot hold.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        return value.description
    }

    static func quoted(_ value: String) -> String { JSONString.literal(value) }
}
