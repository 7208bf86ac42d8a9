/// Times given on the command line or printed: sample numbers and `hh:mm:ss.sss`.
public enum SampleTime {
    /// Parses `T` as a sample number (`650000`, or `s650000`) or a time (`hh:mm:ss.sss`, `mm:ss`, `ss.s`
    /// with at least one `:` or `.`) and returns the frame number at `frequency`.
    public static func parse(_ text: String, frequency: Double) -> Int? {
        var body = Substring(text)
        if body.hasPrefix("s") { body = body.dropFirst() }
        if !body.contains(":") && !body.contains(".") {
            guard let samples = Int(body), samples >= 0 else { return nil }
            return samples
        }
        var seconds = 0.0
        let parts = body.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 3 else { return nil }
        for (index, part) in parts.enumerated() {
            let isLast = index == parts.count - 1
            guard let value = isLast ? Double(part) : Double(Int(part) ?? -1), value >= 0, value.isFinite else {
                return nil
            }
            seconds = seconds * 60 + value
        }
        let frames = (seconds * frequency).rounded()
        guard frames < 9e15 else { return nil }
        return Int(frames)
    }

    /// `h:mm:ss.sss`, or `m:ss.sss` under an hour (as rdann prints).
    /// Times beyond any clock (or a frequency that makes them so) print as seconds.
    public static func format(frame: Int, frequency: Double) -> String {
        let exact = (Double(frame) / frequency * 1000).rounded()
        guard exact.isFinite, abs(exact) < 9e15 else { return "\(Double(frame) / frequency)s" }
        let milliseconds = Int(exact)
        let hours = milliseconds / 3_600_000
        let minutes = milliseconds / 60_000 % 60
        let seconds = milliseconds / 1000 % 60
        let fraction = milliseconds % 1000
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        if hours > 0 { return "\(hours):\(pad(minutes, 2)):\(pad(seconds, 2)).\(pad(fraction, 3))" }
        return "\(minutes):\(pad(seconds, 2)).\(pad(fraction, 3))"
    }
}
