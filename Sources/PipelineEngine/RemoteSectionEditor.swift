import Foundation
import Yams

/// Edits the `remotes:` and `default_remote:` sections of `pipeline.yaml` as text, for `pipe remote add` and
/// `pipe remote remove`: every other byte of the file (comments, layout, key order) stays as it was.
///
/// The parser's node marks give each top-level key's line and each remote's line; an edit inserts or removes
/// whole lines there, and the result is parsed again before the caller writes it.
public struct RemoteSectionEditor {
    public let file: String
    public let registry: StageRegistry
    private var lines: [String]
    private let endsWithNewline: Bool

    public init(text: String, file: String, registry: StageRegistry) {
        self.file = file
        self.registry = registry
        endsWithNewline = text.isEmpty || text.hasSuffix("\n")
        var split = text.components(separatedBy: "\n")
        if endsWithNewline, split.last == "" { split.removeLast() }
        lines = split
    }

    public var text: String { lines.joined(separator: "\n") + (endsWithNewline || !lines.isEmpty ? "\n" : "") }

    /// Adds a remote (or replaces it with `replace`), and makes it the default when asked.
    public mutating func add(_ remote: RemoteDefinition, makeDefault: Bool, replace: Bool) throws {
        if let problem = RemoteDefinition.problem(url: remote.url) {
            throw PipelineError.cannotEditRemotes(file: file, problem: "remote '\(remote.name)': \(problem)")
        }
        let layout = try self.layout()
        let indent = layout.entryIndent ?? "  "
        var entry = ["\(indent)\(remote.name):", "\(indent)\(indent)url: \(Self.scalar(remote.url))"]
        if let endpoint = remote.endpoint { entry.append("\(indent)\(indent)endpoint: \(Self.scalar(endpoint))") }
        if let region = remote.region { entry.append("\(indent)\(indent)region: \(Self.scalar(region))") }
        if layout.remotesSection != nil, layout.remotesIsFlow {
            throw PipelineError.cannotEditRemotes(
                file: file, problem: "'remotes:' is written in flow style ({…}); write it as a block to edit it")
        }
        if let existing = layout.remoteLines[remote.name] {
            guard replace else {
                throw PipelineError.cannotEditRemotes(
                    file: file, problem: "remote '\(remote.name)' already exists (use --force to replace it)")
            }
            lines.replaceSubrange(existing.start..<existing.end, with: entry)
        } else if let section = layout.remotesSection {
            lines.insert(contentsOf: entry, at: section.lastContentLine + 1)
        } else {
            trimTrailingBlankLines()
            if !lines.isEmpty { lines.append("") }
            lines.append("remotes:")
            lines.append(contentsOf: entry)
        }
        if makeDefault { try setDefault(remote.name) }
        try validate()
    }

    /// Removes a remote, and `default_remote:` when it named that remote.
    public mutating func remove(_ name: String) throws {
        let layout = try self.layout()
        guard layout.remoteLines[name] != nil else {
            throw PipelineError.unknownRemote(nil, name: name, known: layout.remoteOrder)
        }
        try removeEntry(name, layout: layout)
        if layout.defaultRemote == name, let line = try self.layout().defaultLine {
            lines.remove(at: line)
        }
        try validate()
    }

    /// Sets `default_remote: NAME`, replacing the line that is there or appending one.
    public mutating func setDefault(_ name: String) throws {
        let layout = try self.layout()
        if let line = layout.defaultLine {
            lines[line] = "default_remote: \(Self.scalar(name))"
        } else if let section = layout.remotesSection {
            lines.insert("default_remote: \(Self.scalar(name))", at: section.lastContentLine + 1)
        } else {
            lines.append("default_remote: \(Self.scalar(name))")
        }
    }

    // MARK: - Private

    /// Line numbers (0-based) of what an edit touches.
    private struct Layout {
        /// The `remotes:` key line and the last line of its block that is not blank or a column-0 comment.
        var remotesSection: (keyLine: Int, lastContentLine: Int)?
        var remotesIsFlow = false
        /// Each remote's key line, and the line after its block.
        var remoteLines: [String: (start: Int, end: Int)] = [:]
        var remoteOrder: [String] = []
        var entryIndent: String?
        var defaultLine: Int?
        var defaultRemote: String?
    }

    private func layout() throws -> Layout {
        var layout = Layout()
        guard let root = try YAMLDocument.compose(text, file: file), case .mapping(let top) = root else {
            return layout
        }
        let topKeys = top.map { (key: $0.key.string ?? "", line: ($0.key.mark?.line ?? 1) - 1) }
        for (index, item) in topKeys.enumerated() {
            let nextLine = index + 1 < topKeys.count ? topKeys[index + 1].line : lines.count
            if item.key == "default_remote" {
                layout.defaultLine = item.line
                layout.defaultRemote = top[Node(stringLiteral: "default_remote")]?.string
            }
            guard item.key == "remotes" else { continue }
            layout.remotesSection = (item.line, lastContentLine(from: item.line, before: nextLine))
            guard let remotesNode = top[Node(stringLiteral: "remotes")] else { continue }
            // Yams does not carry libyaml's flow style into composed nodes: a value that starts with `{` is one.
            if let mark = remotesNode.mark, mark.line - 1 < lines.count {
                let text = Array(lines[mark.line - 1])
                layout.remotesIsFlow = mark.column - 1 < text.count && text[mark.column - 1] == "{"
            }
            guard case .mapping(let remotes) = remotesNode else { continue }
            let entries = remotes.map { (name: $0.key.string ?? "", mark: $0.key.mark) }
            for (position, entry) in entries.enumerated() {
                let start = (entry.mark?.line ?? 1) - 1
                let end =
                    position + 1 < entries.count
                    ? (entries[position + 1].mark?.line ?? 1) - 1
                    : lastContentLine(from: item.line, before: nextLine) + 1
                layout.remoteLines[entry.name] = (start, end)
                layout.remoteOrder.append(entry.name)
                if layout.entryIndent == nil, let column = entry.mark?.column {
                    layout.entryIndent = String(repeating: " ", count: max(1, column - 1))
                }
            }
        }
        return layout
    }

    /// The last line before `limit` that belongs to a block starting at `start`: trailing blank lines and
    /// comments at column 0 belong to whatever follows.
    private func lastContentLine(from start: Int, before limit: Int) -> Int {
        var line = min(limit, lines.count) - 1
        while line > start {
            let text = lines[line]
            if text.trimmingCharacters(in: .whitespaces).isEmpty || text.hasPrefix("#") {
                line -= 1
            } else {
                break
            }
        }
        return line
    }

    private mutating func removeEntry(_ name: String, layout: Layout) throws {
        guard let range = layout.remoteLines[name], let section = layout.remotesSection else { return }
        guard !layout.remotesIsFlow else {
            throw PipelineError.cannotEditRemotes(
                file: file, problem: "'remotes:' is written in flow style ({…}); write it as a block to edit it")
        }
        if layout.remoteOrder.count == 1 {
            lines.removeSubrange(section.keyLine...section.lastContentLine)
            if section.keyLine > 0, section.keyLine <= lines.count,
                lines[section.keyLine - 1].trimmingCharacters(in: .whitespaces).isEmpty
            {
                lines.remove(at: section.keyLine - 1)
            }
        } else {
            lines.removeSubrange(range.start..<range.end)
        }
    }

    private mutating func trimTrailingBlankLines() {
        while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
    }

    private func validate() throws {
        _ = try PipelineParser(file: file, registry: registry).parse(text)
    }

    /// A YAML scalar: plain when that reads back as the same string, else double-quoted.
    static func scalar(_ value: String) -> String {
        let plainSafe = value.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) || "/._-:~@+=".unicodeScalars.contains($0)
        }
        let first = value.first.map { $0.isLetter || $0.isNumber || $0 == "/" || $0 == "." || $0 == "~" } ?? false
        if plainSafe, first, !value.contains(": "), !value.hasSuffix(":"),
            !["true", "false", "null", "yes", "no", "~"]
                .contains(value.lowercased()), Double(value) == nil
        {
            return value
        }
        var escaped = "\""
        for character in value {
            switch character {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            default: escaped.append(character)
            }
        }
        return escaped + "\""
    }
}
