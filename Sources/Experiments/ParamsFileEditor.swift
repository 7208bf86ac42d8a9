import Foundation
import PipelineEngine
import Yams

/// Rewrites scalar values of a YAML params file in place: only the characters of each value change, so
/// comments, key order, indentation and every other line stay as they were (`pipe exp apply`).
public struct ParamsFileEditor {
    public let display: String
    public private(set) var text: String

    public init(text: String, display: String) {
        self.text = text
        self.display = display
    }

    /// Replaces the value at dotted `key` (a whole key containing dots wins over descending, as params are
    /// read) with `value`, YAML text. Refuses block scalars and values spanning lines.
    public mutating func set(_ key: String, to value: String) throws {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ExperimentError.cannotApply(file: display, key: key, problem: "not valid YAML: \(error)")
        }
        guard let root = node, let target = root.param(at: key) else {
            throw ExperimentError.cannotApply(file: display, key: key, problem: "no such key")
        }
        guard let mark = target.mark else {
            throw ExperimentError.cannotApply(file: display, key: key, problem: "no position for the value")
        }
        var lines = text.components(separatedBy: "\n")
        let lineIndex = mark.line - 1
        guard lines.indices.contains(lineIndex) else {
            throw ExperimentError.cannotApply(file: display, key: key, problem: "value position past the end")
        }
        let line = Array(lines[lineIndex])
        let start = mark.column - 1
        guard start >= 0, start <= line.count else {
            throw ExperimentError.cannotApply(file: display, key: key, problem: "value position past the line")
        }
        let end = try Self.valueEnd(line, from: start, key: key, file: display)
        lines[lineIndex] = String(line[..<start]) + value + String(line[end...])
        text = lines.joined(separator: "\n")
    }

    /// One past the last character of the value starting at `start`.
    static func valueEnd(_ line: [Character], from start: Int, key: String, file: String) throws -> Int {
        func refuse(_ problem: String) -> ExperimentError {
            ExperimentError.cannotApply(file: file, key: key, problem: problem)
        }
        guard start < line.count else {
            return start  // An empty value (`key:`) ends where it starts.
        }
        switch line[start] {
        case "|", ">": throw refuse("a block scalar; edit it by hand")
        case "'":
            var index = start + 1
            while index < line.count {
                if line[index] == "'" {
                    if index + 1 < line.count, line[index + 1] == "'" {
                        index += 2
                        continue
                    }
                    return index + 1
                }
                index += 1
            }
            throw refuse("a quoted string spanning lines")
        case "\"":
            var index = start + 1
            while index < line.count {
                if line[index] == "\\" {
                    index += 2
                    continue
                }
                if line[index] == "\"" { return index + 1 }
                index += 1
            }
            throw refuse("a quoted string spanning lines")
        case "[", "{":
            var depth = 0
            var quote: Character?
            for index in start..<line.count {
                let character = line[index]
                if let open = quote {
                    if character == open { quote = nil }
                    continue
                }
                switch character {
                case "'", "\"": quote = character
                case "[", "{": depth += 1
                case "]", "}":
                    depth -= 1
                    if depth == 0 { return index + 1 }
                default: break
                }
            }
            throw refuse("a flow collection spanning lines")
        default:
            var end = line.count
            for index in start..<line.count where line[index] == "#" && index > start && line[index - 1] == " " {
                end = index
                break
            }
            while end > start, line[end - 1] == " " || line[end - 1] == "\t" { end -= 1 }
            return end
        }
    }

    /// A run store value (strings without quotes, the rest as JSON) as YAML text that reads back as the same
    /// value: numbers, booleans, null and JSON lists or maps as they are; strings plain when YAML would read them
    /// back as that string, else double-quoted.
    public static func yamlText(forStoredValue value: String, isNumber: Bool) -> String {
        if isNumber { return value }
        if ["true", "false", "null"].contains(value) { return value }
        if value.hasPrefix("[") || value.hasPrefix("{"),
            (try? JSONSerialization.jsonObject(with: Data(value.utf8))) != nil
        {
            return value
        }
        let special = CharacterSet(charactersIn: ":#{}[],&*!|>'\"%@`\\\n\t")
        let readsBack = YAMLScalar.resolve(Node.Scalar(value, .implicit, .plain)) == .string(value)
        if readsBack, !value.isEmpty, value.rangeOfCharacter(from: special) == nil,
            value.trimmingCharacters(in: .whitespaces) == value,
            !value.hasPrefix("-"), !value.hasPrefix("?")
        {
            return value
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        let data = (try? encoder.encode(value)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
