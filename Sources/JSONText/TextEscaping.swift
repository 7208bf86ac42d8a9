/// The one loop behind every escaper (JSON string literals, HTML, SVG, S3's XML): text with the Unicode scalars
/// that a replacement names swapped for their replacement, every other scalar kept.
public enum TextEscaping {
    /// `text` with each scalar for which `replacement` gives a string replaced by that string.
    @inlinable
    public static func replacing(_ text: String, _ replacement: (Unicode.Scalar) -> String?) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if let replaced = replacement(scalar) { out += replaced } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }

    /// XML's five predefined entities, for element content and quoted attribute values: `& < > " '`.
    @inlinable
    public static func xmlEntity(_ scalar: Unicode.Scalar) -> String? {
        switch scalar {
        case "&": return "&amp;"
        case "<": return "&lt;"
        case ">": return "&gt;"
        case "\"": return "&quot;"
        case "'": return "&apos;"
        default: return nil
        }
    }
}
