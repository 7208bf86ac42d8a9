import Foundation

/// WFDB's NOISE (`~`) annotations for stretches of a signal too noisy to read, and their merge with the beats.
public enum NoiseAnnotations {
    /// A NOISE annotation at the start of each stretch (frames), its subtype marking `signal` noisy (bit
    /// `signal` for signals 0–3, as in the WFDB convention; −1, every signal unreadable, for a later signal,
    /// which the convention cannot name), and one with subtype 0 (clean again) at its end.
    public static func marking(_ stretches: [Range<Int>], signal: Int) -> [Annotation] {
        let noise = AnnotationCode.code(for: "~") ?? 14
        let subtype = (0..<4).contains(signal) ? 1 << signal : -1
        return stretches.flatMap {
            [
                Annotation(sample: $0.lowerBound, code: noise, subtype: subtype),
                Annotation(sample: $0.upperBound, code: noise, subtype: 0),
            ]
        }
    }

    /// `noise` and `beats` in time order; a stable sort keeps a noise annotation before a beat of the same
    /// sample, as it was found first.
    public static func merged(noise: [Annotation], beats: [Annotation]) -> [Annotation] {
        (noise + beats).enumerated().sorted {
            ($0.element.sample, $0.offset) < ($1.element.sample, $1.offset)
        }.map(\.element)
    }
}
