import Foundation

/// A `--where` expression: comparisons joined by `and`.
///
/// ```
/// metrics.eval.accuracy > 0.9 and params.train.lr = 0.001 and status = succeeded
/// ```
/// Operators: `= != < <= > >=` (`==` is accepted for `=`). Values are numbers, bare words or quoted strings
/// (`'…'` or `"…"`, backslash escapes the quote). Comparison is numeric when both sides are numbers; a quoted
/// value is always text. A run without the named param or metric never matches.
public struct FilterExpression: Equatable, Sendable {
    public enum Operator: String, Equatable, Sendable, CaseIterable {
        case equal = "="
        case notEqual = "!="
        case less = "<"
        case lessOrEqual = "<="
        case greater = ">"
        case greaterOrEqual = ">="
    }

    public enum Value: Equatable, Sendable {
        /// A bare token that reads as a number; `text` keeps its spelling for text comparisons.
        case number(Double, text: String)
        /// A bare word or a quoted string.
        case text(String)

        var text: String {
            switch self {
            case .number(_, let text): return text
            case .text(let text): return text
            }
        }
    }

    public struct Comparison: Equatable, Sendable {
        public var field: RunField
        public var op: Operator
        public var value: Value
        public init(_ field: RunField, _ op: Operator, _ value: Value) {
            self.field = field
            self.op = op
            self.value = value
        }
    }

    /// All must hold.
    public var comparisons: [Comparison]

    public init(comparisons: [Comparison]) { self.comparisons = comparisons }

    /// Parses and checks an expression; errors carry the 1-based column of the problem.
    public init(parsing text: String) throws {
        var parser = Parser(text: text)
        self.comparisons = try parser.parseExpression()
    }
}

// MARK: - Lexer and parser

private struct Token: Equatable {
    enum Kind: Equatable {
        case word, quoted
        case op(FilterExpression.Operator)
    }
    var kind: Kind
    var text: String
    var column: Int
}

private struct Parser {
    let source: String
    var tokens: [Token] = []
    var position = 0
    var lexError: TrackingError?

    init(text: String) {
        source = text
        do { tokens = try Parser.lex(text) } catch let error as TrackingError { lexError = error } catch {}
    }

    private func fail(_ column: Int, _ reason: String) -> TrackingError {
        .badFilter(expression: source, column: column, reason: reason)
    }

    private var endColumn: Int { source.count + 1 }

    mutating func parseExpression() throws -> [FilterExpression.Comparison] {
        if let lexError { throw lexError }
        guard !tokens.isEmpty else { throw fail(1, "empty expression") }
        var comparisons = [try parseComparison()]
        while position < tokens.count {
            let token = tokens[position]
            guard token.kind == .word, token.text.lowercased() == "and" else {
                if token.kind == .word, token.text.lowercased() == "or" {
                    throw fail(token.column, "only 'and' is supported")
                }
                throw fail(token.column, "expected 'and' before '\(token.text)'")
            }
            position += 1
            guard position < tokens.count else { throw fail(endColumn, "expected a comparison after 'and'") }
            comparisons.append(try parseComparison())
        }
        return comparisons
    }

    private mutating func parseComparison() throws -> FilterExpression.Comparison {
        let fieldToken = tokens[position]
        guard fieldToken.kind == .word else {
            throw fail(fieldToken.column, "expected a field name (\(RunField.help))")
        }
        let field: RunField
        do { field = try RunField(parsing: fieldToken.text) } catch let TrackingError.badKey(_, reason) {
            throw fail(fieldToken.column, "'\(fieldToken.text)': \(reason)")
        }
        position += 1
        guard position < tokens.count, case .op(let op) = tokens[position].kind else {
            let column = position < tokens.count ? tokens[position].column : endColumn
            throw fail(column, "expected an operator (= != < <= > >=) after '\(fieldToken.text)'")
        }
        position += 1
        guard position < tokens.count else { throw fail(endColumn, "expected a value after '\(op.rawValue)'") }
        let valueToken = tokens[position]
        if case .op = valueToken.kind { throw fail(valueToken.column, "expected a value after '\(op.rawValue)'") }
        position += 1
        let value: FilterExpression.Value
        if valueToken.kind == .word, let number = strictNumber(valueToken.text) {
            value = .number(number, text: valueToken.text)
        } else {
            value = .text(valueToken.text)
        }
        try check(field: field, value: value, column: valueToken.column)
        return FilterExpression.Comparison(field, op, value)
    }

    /// Rejects comparisons that can never be meant: a misspelt status, a metric against a word.
    private func check(field: RunField, value: FilterExpression.Value, column: Int) throws {
        switch field {
        case .status:
            guard RunStatus(rawValue: value.text) != nil else {
                throw fail(
                    column,
                    "unknown status '\(value.text)' (\(RunStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        case .kind:
            guard RunKind(rawValue: value.text) != nil else {
                throw fail(
                    column, "unknown kind '\(value.text)' (\(RunKind.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
        case .dirty:
            guard FilterExpression.boolean(value.text) != nil else {
                throw fail(column, "dirty is true or false, not '\(value.text)'")
            }
        case .metric, .duration, .pid:
            guard strictNumber(value.text) != nil else {
                throw fail(column, "\(field) is a number; '\(value.text)' is not")
            }
        case .start, .end:
            guard FilterExpression.time(value) != nil else {
                throw fail(
                    column,
                    "\(field) takes a date (2026-11-25, 2026-11-25T14:30[:00][Z]) or seconds since 1970, not '\(value.text)'"
                )
            }
        case .id, .commit, .branch, .user, .host, .version, .sweep, .param:
            break
        }
    }

    private static func lex(_ text: String) throws -> [Token] {
        let characters = Array(text)
        var tokens: [Token] = []
        var index = 0
        let operatorCharacters: Set<Character> = ["=", "!", "<", ">"]
        while index < characters.count {
            let character = characters[index]
            let column = index + 1
            if character.isWhitespace {
                index += 1
            } else if operatorCharacters.contains(character) {
                var spelling = String(character)
                if index + 1 < characters.count, characters[index + 1] == "=" {
                    spelling.append("=")
                    index += 1
                }
                index += 1
                if spelling == "==" { spelling = "=" }
                guard let op = FilterExpression.Operator(rawValue: spelling) else {
                    throw TrackingError.badFilter(
                        expression: text, column: column, reason: "unknown operator '\(spelling)' (use = != < <= > >=)")
                }
                tokens.append(Token(kind: .op(op), text: spelling, column: column))
            } else if character == "'" || character == "\"" {
                var value = ""
                index += 1
                var closed = false
                while index < characters.count {
                    let next = characters[index]
                    if next == "\\", index + 1 < characters.count {
                        value.append(characters[index + 1])
                        index += 2
                    } else if next == character {
                        index += 1
                        closed = true
                        break
                    } else {
                        value.append(next)
                        index += 1
                    }
                }
                guard closed else {
                    throw TrackingError.badFilter(expression: text, column: column, reason: "unterminated string")
                }
                tokens.append(Token(kind: .quoted, text: value, column: column))
            } else {
                var word = ""
                while index < characters.count, !characters[index].isWhitespace,
                    !operatorCharacters.contains(characters[index]), characters[index] != "'", characters[index] != "\""
                {
                    word.append(characters[index])
                    index += 1
                }
                tokens.append(Token(kind: .word, text: word, column: column))
            }
        }
        return tokens
    }
}

extension FilterExpression {
    static func boolean(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "1": return true
        case "false", "no", "0": return false
        default: return nil
        }
    }

    /// Seconds since 1970 for a start/end value: a number, or an ISO 8601 date or date-time (local time when no zone).
    static func time(_ value: Value) -> Double? {
        if case .number(let seconds, _) = value { return seconds }
        let text = value.text
        let formats = [
            "yyyy-MM-dd", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm", "yyyy-MM-dd HH:mm:ss",
        ]
        if text.hasSuffix("Z") || text.range(of: #"[+-]\d\d:?\d\d$"#, options: .regularExpression) != nil {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            return formatter.date(from: text)?.timeIntervalSince1970
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = .current
        for format in formats {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        }
        return nil
    }
}
