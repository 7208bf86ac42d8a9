import Foundation
import Tracking

/// A classification evaluation read back from structured values or flattened metric keys: `P.confusion.I.J` (a matrix, rows the
/// truth) and `P.per_class.CLASS.FIELD` (per-class values such as `se`, `ppv`, `f1`, `support`). Nothing here
/// knows which classes exist; a run without such keys simply has no evaluation.
public struct EvaluationMetrics: Equatable, Sendable {
    /// The key prefix (`eval`), empty for keys at the top level.
    public var prefix: String
    /// `matrix[truth][predicted]`, square; empty when the run logged no confusion matrix.
    public var matrix: [[Double]]
    /// Class names in matrix order when per-class supports identify the rows, else in key order.
    public var classes: [String]
    /// Whether `classes` label the matrix rows (matched by support), so the heat map can name its axes.
    public var classesLabelMatrix: Bool
    /// `perClass[class][field]`.
    public var perClass: [String: [String: Double]]

    /// Every evaluation of a listed run: its structured values (`eval.confusion` as a matrix, `eval.per_class` as a
    /// table) read as the dotted keys that stores before structured values held, merged with its latest metrics.
    public static func find(in summary: RunSummary) -> [EvaluationMetrics] {
        var values = summary.metrics
        for (key, value) in summary.structuredMetrics {
            values.merge(value.flattened(prefix: key)) { _, structured in structured }
        }
        return find(in: values)
    }

    /// Every evaluation in `metrics` (latest values by dotted key), by prefix.
    public static func find(in metrics: [String: Double]) -> [EvaluationMetrics] {
        var cells: [String: [Int: [Int: Double]]] = [:]
        var perClass: [String: [String: [String: Double]]] = [:]
        for (key, value) in metrics {
            let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 3 else { continue }
            let marker = parts[parts.count - 3]
            let prefix = parts.dropLast(3).joined(separator: ".")
            if marker == "confusion", let row = Int(parts[parts.count - 2]), let column = Int(parts[parts.count - 1]),
                row >= 0, column >= 0, row < 64, column < 64
            {
                cells[prefix, default: [:]][row, default: [:]][column] = value
            } else if marker == "per_class" {
                perClass[prefix, default: [:]][parts[parts.count - 2], default: [:]][parts[parts.count - 1]] = value
            }
        }
        return Set(cells.keys).union(perClass.keys).sorted().map { prefix in
            let rows = cells[prefix] ?? [:]
            let size = (rows.keys.max().map { $0 + 1 } ?? 0)
            let width = max(size, rows.values.compactMap { $0.keys.max().map { $0 + 1 } }.max() ?? 0)
            let matrix = (0..<width).map { row in (0..<width).map { column in rows[row]?[column] ?? 0 } }
            let classTable = perClass[prefix] ?? [:]
            let (classes, labelled) = orderClasses(classTable, matrix: matrix)
            return EvaluationMetrics(
                prefix: prefix, matrix: matrix, classes: classes, classesLabelMatrix: labelled, perClass: classTable)
        }
    }

    /// Keys `find` reads (they are shown as evaluations, not as table columns or curves).
    public static func isEvaluationKey(_ key: String) -> Bool {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return false }
        let marker = parts[parts.count - 3]
        return marker == "per_class" || (marker == "confusion" && Int(parts[parts.count - 2]) != nil)
    }

    /// Classes in matrix row order when each class's `support` equals exactly one row's sum; else sorted names.
    private static func orderClasses(
        _ table: [String: [String: Double]], matrix: [[Double]]
    ) -> ([String], Bool) {
        let names = table.keys.sorted()
        guard !matrix.isEmpty, names.count == matrix.count else { return (names, false) }
        let rowSums = matrix.map { $0.reduce(0, +) }
        var order: [String] = []
        for sum in rowSums {
            let candidates = names.filter { table[$0]?["support"] == sum }
            guard candidates.count == 1, let name = candidates.first, !order.contains(name) else {
                return (names, false)
            }
            order.append(name)
        }
        return (order, true)
    }
}
