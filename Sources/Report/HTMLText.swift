import Foundation
import JSONText

/// Text into HTML. Every run name, param value and metric key goes through here: the page is built as text, so
/// escaping is the only thing between a param value such as `</script><img onerror=…>` and the reader's browser.
enum HTMLText {
    /// Text for element content and quoted attribute values: `& < > " '` become entities.
    static func escape(_ text: String) -> String {
        TextEscaping.replacing(text) { $0 == "'" ? "&#39;" : TextEscaping.xmlEntity($0) }
    }

    /// JSON for the inside of a `<script type="application/json">`: `<`, `>` and `&` as `\u` escapes (so no
    /// `</script>` or `<!--` can end the element early), and U+2028/U+2029, which some parsers take as line ends.
    static func scriptJSON(_ json: String) -> String {
        TextEscaping.replacing(json) { scalar in
            switch scalar {
            case "<", ">", "&", "\u{2028}", "\u{2029}": return "\\u" + hex4(scalar.value)
            default: return nil
            }
        }
    }

    private static func hex4(_ value: UInt32) -> String {
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// A pixel coordinate with at most one decimal: `12`, `12.5`.
    static func pixel(_ value: Double) -> String {
        let tenths = (value * 10).rounded()
        let whole = Int(tenths) / 10
        let rest = abs(Int(tenths) % 10)
        if rest == 0 { return String(whole) }
        return (tenths < 0 && whole == 0 ? "-" : "") + "\(whole).\(rest)"
    }
}

/// A growing HTML document: `append` takes markup, `text` takes text and escapes it.
struct HTMLBuffer {
    private(set) var markup = ""

    init(capacity: Int = 1 << 16) { markup.reserveCapacity(capacity) }

    mutating func append(_ html: String) { markup += html }
    mutating func text(_ text: String) { markup += HTMLText.escape(text) }
}
