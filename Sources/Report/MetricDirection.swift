/// Which way a metric improves, from its name: keys naming a loss or an error are better low, the rest high.
public enum MetricDirection: Equatable, Sendable {
    case lowerIsBetter, higherIsBetter

    public init(key: String) {
        let name = key.lowercased()
        self = name.contains("loss") || name.contains("error") ? .lowerIsBetter : .higherIsBetter
    }

    /// The best of `values` (nil when there is none).
    public func best(_ values: [Double]) -> Double? {
        self == .lowerIsBetter ? values.min() : values.max()
    }

    /// "lowest" or "highest", for the page's words.
    var word: String { self == .lowerIsBetter ? "lowest" : "highest" }
}
