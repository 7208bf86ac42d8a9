// CYaml is the libyaml that Yams is built on. Yams composes aliases into shared subtrees but exposes no event
// stream, and hashing a mapping key that is an alias bomb already explodes inside Yams' duplicate-key check,
// so the count has to happen on libyaml's events, before any tree exists.
import CYaml

/// The expansion limit for YAML read from outside (`pipeline.yaml`, `pipeline.lock`, params files, `-S`
/// values). An alias stands for the whole node it names, so nine levels of ×10 aliases, a few hundred bytes,
/// are a billion nodes to whoever walks the tree. As libyaml-based parsers do, the nodes a document holds
/// once its aliases are expanded are counted from the parser's events, and a document whose aliases expand it
/// past `nodeLimit` nodes (or past its own written size, for a larger document) is refused.
enum YAMLExpansion {
    /// A params file is a few hundred nodes; a million is more than any legitimate one and still walks in
    /// well under a second.
    static let nodeLimit = 1_000_000

    /// Where the expansion crossed the limit: 1-based line and column of the alias.
    struct Exceeded: Error, Equatable {
        var line: Int
        var column: Int
    }

    /// Throws `Exceeded` when aliases expand `text` past the limit. A syntax error stops the count silently:
    /// composing the text reports it with its position.
    static func check(_ text: String, limit: Int = nodeLimit) throws {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return }
        defer { yaml_parser_delete(&parser) }
        var bytes = Array(text.utf8)
        try bytes.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            yaml_parser_set_input_string(&parser, base, buffer.count)
            var counter = Counter(limit: limit)
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return }
                defer { yaml_event_delete(&event) }
                let mark = (line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_SCALAR_EVENT:
                    counter.scalar(anchor: name(event.data.scalar.anchor))
                case YAML_ALIAS_EVENT:
                    counter.alias(name(event.data.alias.anchor))
                case YAML_SEQUENCE_START_EVENT:
                    counter.open(anchor: name(event.data.sequence_start.anchor))
                case YAML_MAPPING_START_EVENT:
                    counter.open(anchor: name(event.data.mapping_start.anchor))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    counter.close()
                default:
                    continue
                }
                if counter.exceeded { throw Exceeded(line: mark.line, column: mark.column) }
            }
        }
    }

    private static func name(_ anchor: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        anchor.map { String(cString: $0) }
    }

    /// Expanded and written node counts, and the expanded size of every anchored node seen so far.
    private struct Counter {
        let limit: Int
        var expanded = 0
        var written = 0
        var anchorSizes: [String: Int] = [:]
        /// Open collections: their anchor and the expanded count when they started.
        var open: [(anchor: String?, start: Int)] = []

        init(limit: Int) { self.limit = limit }

        var exceeded: Bool { expanded > max(limit, written) }

        mutating func scalar(anchor: String?) {
            expanded += 1
            written += 1
            if let anchor { anchorSizes[anchor] = 1 }
        }

        /// An alias to an unknown anchor counts as one node; composing reports it as undefined.
        mutating func alias(_ anchor: String?) {
            expanded += anchor.flatMap { anchorSizes[$0] } ?? 1
            written += 1
        }

        mutating func open(anchor: String?) {
            open.append((anchor, expanded))
            expanded += 1
            written += 1
        }

        mutating func close() {
            guard let collection = open.popLast() else { return }
            if let anchor = collection.anchor { anchorSizes[anchor] = expanded - collection.start }
        }
    }
}
