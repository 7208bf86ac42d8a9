/// JSON string literals, written one way everywhere: stage signatures and `pipeline.lock` (through canonical param
/// values) and the JSON that commands print depend on the same bytes for the same text.
public enum JSONString {
    /// `text` as a JSON string literal, quotes included: `"` and `\` escaped, `\n` `\r` `\t` as such, other
    /// control characters as `\u00xx` (lowercase hex); everything else as it is.
    public static func literal(_ text: String) -> String {
        "\"" + TextEscaping.replacing(text, escape) + "\""
    }

    private static func escape(_ scalar: Unicode.Scalar) -> String? {
        switch scalar {
        case "\"": return "\\\""
        case "\\": return "\\\\"
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: return nil
        }
    }
}
