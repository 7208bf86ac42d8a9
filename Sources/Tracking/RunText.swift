import Foundation

/// How a run's numbers and durations read wherever runs are shown: `pipe runs list/show/diff` and the report page
/// print them alike.
public enum RunText {
    /// Six significant digits, no trailing zeros: `0.934`, `12`, `1e-05`.
    public static func number(_ value: Double) -> String {
        String(format: "%.6g", value)
    }

    /// A delta with its sign: `+0.022`, `-3`, `0`.
    public static func delta(_ value: Double) -> String {
        value > 0 ? "+" + number(value) : number(value)
    }

    /// `0.4s`, `12.3s`, `4m08s`, `1h02m`; `-` for a negative or non-finite one.
    public static func duration(_ seconds: TimeInterval) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "-" }
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return String(format: "%dm%02ds", whole / 60, whole % 60) }
        return String(format: "%dh%02dm", whole / 3600, (whole % 3600) / 60)
    }
}
