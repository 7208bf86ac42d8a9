import Foundation

/// A CSV table (RFC 4180): one header row, then rows of cells; lines end with `\n`, and a cell holding a comma,
/// a quote or a line break is quoted. The data behind each plot is written as one of these, so a plot can be
/// redrawn with other tools.
public struct CSVTable: Equatable, Sendable {
    public var header: [String]
    public var rows: [[String]]

    public init(header: [String], rows: [[String]]) {
        self.header = header
        self.rows = rows
    }

    /// The table as CSV text, ending with a newline.
    public func text() -> String {
        var text = ""
        for row in [header] + rows {
            text += row.map(Self.escaped).joined(separator: ",")
            text += "\n"
        }
        return text
    }

    static func escaped(_ cell: String) -> String {
        guard cell.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return cell }
        return "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A number as a cell: integers without a fraction (`3`), other values in the shortest text that reads back
    /// as the same double (`0.1`, `1e-05`), and `nan`, `inf`, `-inf` as numpy and pandas read them.
    public static func cell(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return value.description
    }

    /// The series of a line chart side by side: the first column is x (`xName`, e.g. `epoch`), then one column
    /// per series named by the series (`train_loss`, `val_loss`). One row per x value that any series has, in
    /// ascending order; a series without a value at that x leaves its cell empty. Non-finite values are kept
    /// (`nan`, `inf`), unlike in the plot, so the file shows what the run produced.
    public init(xName: String, series: [PlotSeries]) {
        var valuesByX: [[Double: Double]] = []
        var xs = Set<Double>()
        for one in series {
            var values: [Double: Double] = [:]
            for point in one.points where point.x.isFinite {
                values[point.x] = point.y
                xs.insert(point.x)
            }
            valuesByX.append(values)
        }
        self.init(
            header: [xName] + series.map(\.name),
            rows: xs.sorted().map { x in [Self.cell(x)] + valuesByX.map { $0[x].map(Self.cell) ?? "" } })
    }

    /// A confusion matrix: header `truth,N,S,V,F,Q` (predicted classes), then one row per true class with its
    /// counts.
    public init(confusion report: ClassificationReport) {
        let names = ClassificationReport.classes.map(\.rawValue)
        self.init(
            header: ["truth"] + names,
            rows: zip(names, report.confusion).map { name, row in [name] + row.map(String.init) })
    }
}
