import Foundation

/// One `-S KEY=V1,V2,...` of `pipe exp run`: an axis of the sweep, in Hydra's override syntax.
///
/// ```
/// train.lr=1e-3,3e-3          two values
/// train.seed=range(1,9)       1 … 8 (Python's range: the stop is left out; an optional step)
/// train.opt=choice(adam,sgd)  the same as adam,sgd
/// train.name='a,b',"c"        quoted values keep their commas
/// train.layers=[1,2],[3]      brackets and braces keep theirs: two YAML lists
/// ```
/// Each value stays YAML text, read by `ParamOverride` exactly as `pipe repro -S` reads one.
public struct SweepAxis: Equatable, Sendable {
    /// `STAGE.KEY`, the part before `=`.
    public var target: String
    /// Each value as YAML text, in order.
    public var values: [String]

    public init(target: String, values: [String]) {
        self.target = target
        self.values = values
    }

    /// The overrides one value makes: `STAGE.KEY=VALUE`, as `pipe repro -S` takes it.
    public func override(_ index: Int) -> String { "\(target)=\(values[index])" }

    public init(parsing text: String) throws {
        guard let equals = text.firstIndex(of: "=") else {
            throw ExperimentError.badSweep(text: text, problem: "expected STAGE.KEY=VALUE[,VALUE...]")
        }
        let target = String(text[..<equals]).trimmingCharacters(in: .whitespaces)
        guard let dot = target.firstIndex(of: "."), dot != target.startIndex,
            target.index(after: dot) != target.endIndex
        else { throw ExperimentError.badSweep(text: text, problem: "expected STAGE.KEY before '='") }
        let valueText = String(text[text.index(after: equals)...])
        self.target = target
        self.values = try Self.values(of: valueText, in: text)
        guard !values.isEmpty else { throw ExperimentError.badSweep(text: text, problem: "the list is empty") }
    }

    static func values(of valueText: String, in text: String) throws -> [String] {
        let trimmed = valueText.trimmingCharacters(in: .whitespaces)
        for function in ["range", "choice"] where trimmed.hasPrefix(function + "(") {
            guard trimmed.hasSuffix(")") else {
                throw ExperimentError.badSweep(text: text, problem: "\(function)(...) is not closed")
            }
            let inner = String(trimmed.dropFirst(function.count + 1).dropLast())
            let items = try split(inner, in: text)
            if function == "choice" {
                guard !items.isEmpty else { throw ExperimentError.badSweep(text: text, problem: "choice() is empty") }
                return items
            }
            return try range(items, in: text)
        }
        // A single value is taken whole, as `pipe repro -S` takes it (`x=` is YAML null).
        let items = try split(valueText, in: text)
        return items.count <= 1 ? [valueText] : items
    }

    /// Splits at the commas outside quotes, brackets, braces and parentheses. An empty item is an error.
    static func split(_ text: String, in whole: String) throws -> [String] {
        var items: [String] = []
        var current = ""
        var depth = 0
        var quote: Character?
        var escaped = false
        for character in text {
            if let open = quote {
                current.append(character)
                if escaped {
                    escaped = false
                } else if character == "\\" && open == "\"" {
                    escaped = true
                } else if character == open {
                    quote = nil
                }
                continue
            }
            switch character {
            case "'", "\"":
                quote = character
                current.append(character)
            case "[", "{", "(":
                depth += 1
                current.append(character)
            case "]", "}", ")":
                depth -= 1
                guard depth >= 0 else {
                    throw ExperimentError.badSweep(text: whole, problem: "unbalanced '\(character)'")
                }
                current.append(character)
            case "," where depth == 0:
                items.append(current)
                current = ""
            default:
                current.append(character)
            }
        }
        if quote != nil { throw ExperimentError.badSweep(text: whole, problem: "unterminated quoted string") }
        if depth != 0 { throw ExperimentError.badSweep(text: whole, problem: "unbalanced brackets") }
        items.append(current)
        let trimmed = items.map { $0.trimmingCharacters(in: .whitespaces) }
        if trimmed.count > 1, trimmed.contains(where: \.isEmpty) {
            throw ExperimentError.badSweep(text: whole, problem: "an empty value in the list")
        }
        if trimmed == [""] { return [] }
        return trimmed
    }

    /// `range(stop)`, `range(start, stop)`, `range(start, stop, step)`: integers, or decimals when any is one.
    static func range(_ items: [String], in text: String) throws -> [String] {
        guard (1...3).contains(items.count) else {
            throw ExperimentError.badSweep(text: text, problem: "range takes 1 to 3 numbers, not \(items.count)")
        }
        let maximum = 1_000_000
        let integers = items.compactMap { Int($0) }
        if integers.count == items.count {
            let start = integers.count == 1 ? 0 : integers[0]
            let stop = integers.count == 1 ? integers[0] : integers[1]
            let step = integers.count == 3 ? integers[2] : 1
            guard step != 0 else { throw ExperimentError.badSweep(text: text, problem: "range step is 0") }
            let values = Swift.stride(from: start, to: stop, by: step).prefix(maximum + 1).map(String.init)
            guard !values.isEmpty else {
                throw ExperimentError.badSweep(text: text, problem: "range(\(items.joined(separator: ", "))) is empty")
            }
            guard values.count <= maximum else {
                throw ExperimentError.badSweep(text: text, problem: "range has more than \(maximum) values")
            }
            return values
        }
        let numbers = items.compactMap { item -> Double? in
            guard let value = Double(item), value.isFinite,
                item.unicodeScalars.allSatisfy({ "0123456789+-.eE".unicodeScalars.contains($0) })
            else { return nil }
            return value
        }
        guard numbers.count == items.count else {
            let bad = items.first { Double($0) == nil } ?? items.joined(separator: ",")
            throw ExperimentError.badSweep(text: text, problem: "range needs numbers, not '\(bad)'")
        }
        let start = numbers.count == 1 ? 0 : numbers[0]
        let stop = numbers.count == 1 ? numbers[0] : numbers[1]
        let step = numbers.count == 3 ? numbers[2] : 1
        guard step != 0 else { throw ExperimentError.badSweep(text: text, problem: "range step is 0") }
        let count = Int(((stop - start) / step).rounded(.up))
        guard count > 0 else {
            throw ExperimentError.badSweep(text: text, problem: "range(\(items.joined(separator: ", "))) is empty")
        }
        guard count <= maximum else {
            throw ExperimentError.badSweep(text: text, problem: "range has more than \(maximum) values")
        }
        // start + i × step, not repeated addition, so that 0.1 steps do not drift.
        return (0..<count).map { "\(start + Double($0) * step)" }
    }
}

/// The experiments of a sweep: the cartesian product of its axes (the first axis varies slowest, as in
/// Hydra), or with `zip` the i-th value of every axis together (one-value axes go with all of them).
public struct ExperimentGrid: Equatable, Sendable {
    public var axes: [SweepAxis]
    public var zip: Bool

    /// Above this many experiments a sweep needs `--yes`.
    public static let confirmationLimit = 10_000

    public init(axes: [SweepAxis], zip: Bool = false) {
        self.axes = axes
        self.zip = zip
    }

    public init(parsing texts: [String], zip: Bool = false) throws {
        self.init(axes: try texts.map(SweepAxis.init(parsing:)), zip: zip)
        if zip {
            let lengths = Set(axes.map(\.values.count).filter { $0 > 1 })
            if lengths.count > 1 {
                var byTarget: [String: Int] = [:]
                for axis in axes { byTarget[axis.target] = axis.values.count }
                throw ExperimentError.zipLengthMismatch(lengths: byTarget)
            }
        }
    }

    /// How many experiments, without building them (a huge grid is refused before it is made).
    public var count: Int {
        if axes.isEmpty { return 1 }
        if zip { return axes.map(\.values.count).max() ?? 1 }
        return axes.reduce(1) { product, axis in
            let (result, overflow) = product.multipliedReportingOverflow(by: axis.values.count)
            return overflow ? Int.max : result
        }
    }

    /// The keys that take more than one value: the columns a comparison leads with.
    public var sweptTargets: [String] { axes.filter { $0.values.count > 1 }.map(\.target) }

    /// Each experiment's overrides (`STAGE.KEY=VALUE`), in axis order.
    public func experiments() -> [[String]] {
        if axes.isEmpty { return [[]] }
        if zip {
            return (0..<count).map { row in
                axes.map { $0.override($0.values.count == 1 ? 0 : row) }
            }
        }
        var rows: [[String]] = [[]]
        for axis in axes {
            rows = rows.flatMap { row in axis.values.indices.map { row + [axis.override($0)] } }
        }
        return rows
    }
}
