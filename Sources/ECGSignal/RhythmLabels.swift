import Foundation

/// The rhythm in effect at each beat, from a reference annotation file's rhythm changes.
///
/// In MIT-format annotations a rhythm change is an annotation `+` whose aux text names the rhythm that starts
/// there (`(N`, `(AFIB`, `(AFL`, `(SVTA`, `(B`, `(T`, …): the rhythm lasts until the next change. Beats before the
/// first change have no known rhythm.
public enum RhythmLabels {
    /// The rhythm label an aux text holds: the text without its NUL padding and surrounding white space, and
    /// without the opening parenthesis (`(AFIB\0` → `AFIB`); nil when nothing is left.
    public static func label(aux: String) -> String? {
        var text = aux.trimmingCharacters(in: .whitespacesAndNewlines.union(CharacterSet(charactersIn: "\0")))
        if text.hasPrefix("(") { text.removeFirst() }
        return text.isEmpty ? nil : text
    }

    /// For each of `beats` (ascending samples), the label of the last change at or before it; "" before the first.
    /// `changes` need not be sorted: they are ordered by sample, keeping the file's order among equal samples.
    public static func assign(beats: [Int], changes: [(sample: Int, label: String)]) -> [String] {
        let ordered = changes.enumerated().sorted { ($0.element.sample, $0.offset) < ($1.element.sample, $1.offset) }
            .map(\.element)
        var result = [String](repeating: "", count: beats.count)
        var next = 0
        var current = ""
        for (index, beat) in beats.enumerated() {
            while next < ordered.count, ordered[next].sample <= beat {
                current = ordered[next].label
                next += 1
            }
            result[index] = current
        }
        return result
    }
}
