import Foundation

/// How beats are divided into a training and a test set.
public enum DatasetSplit: Equatable, Sendable, CustomStringConvertible {
    /// de Chazal et al. (2004): train on DS1, test on DS2; the paced records belong to neither.
    case interPatient
    /// The original project's protocol: a shuffled split over beats, so a patient's beats land on both sides.
    case random(testFraction: Double, seed: UInt64)
    /// Explicit record lists.
    case records(train: [String], test: [String])
    /// Patient-wise K-fold cross-validation inside DS1 (`ds1Folds`): each fold's records are scored by a model
    /// trained on the other folds, and DS2 is never read. `assign` gives all of DS1 to training, nothing to test.
    case ds1CrossValidation(folds: Int, seed: UInt64)

    public static let ds1 = [
        "101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124", "201", "203", "205",
        "207", "208", "209", "215", "220", "223", "230",
    ]
    public static let ds2 = [
        "100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210", "212", "213", "214", "219",
        "221", "222", "228", "231", "232", "233", "234",
    ]
    public static let pacedRecords = ["102", "104", "107", "217"]

    public var description: String {
        switch self {
        case .interPatient: return "inter-patient"
        case .random(let fraction, let seed): return "random (test fraction \(fraction), seed \(seed))"
        case .records(let train, let test):
            return "records (train \(train.joined(separator: " ")); test \(test.joined(separator: " ")))"
        case .ds1CrossValidation(let folds, let seed): return "ds1-cv (\(folds) folds, seed \(seed))"
        }
    }

    /// The name used in params: `inter-patient`, `random` or `records`.
    public var kind: String {
        switch self {
        case .interPatient: return "inter-patient"
        case .random: return "random"
        case .records: return "records"
        case .ds1CrossValidation: return "ds1-cv"
        }
    }

    /// Beat indices of each side, ascending. Deterministic: the random split shuffles with `SplitMix64`.
    public func assign(_ dataset: BeatDataset) -> (train: [Int], test: [Int]) {
        switch self {
        case .interPatient:
            return Self.byRecords(dataset, train: Set(Self.ds1), test: Set(Self.ds2))
        case .records(let train, let test):
            return Self.byRecords(dataset, train: Set(train), test: Set(test))
        case .ds1CrossValidation:
            return Self.byRecords(dataset, train: Set(Self.ds1), test: [])
        case .random(let fraction, let seed):
            var order = Array(0..<dataset.count)
            var generator = SplitMix64(seed: seed)
            generator.shuffle(&order)
            let testCount = Int((Double(dataset.count) * fraction).rounded())
            return (order.dropFirst(testCount).sorted(), order.prefix(testCount).sorted())
        }
    }

    /// The DS1 records among `available` (all of DS1 by default) dealt into `count` folds: in DS1's order,
    /// shuffled with `seed`, then dealt in turn, so folds differ in size by at most one record. Each fold's records
    /// are sorted; there are never more folds than records.
    public static func ds1Folds(count: Int, seed: UInt64, available: [String] = ds1) -> [[String]] {
        let present = Set(available)
        var order = ds1.filter { present.contains($0) }
        var generator = SplitMix64(seed: seed)
        generator.shuffle(&order)
        let folds = min(max(1, count), max(1, order.count))
        var result = [[String]](repeating: [], count: folds)
        for (position, record) in order.enumerated() { result[position % folds].append(record) }
        return result.map { $0.sorted() }
    }

    /// The training and test beats of fold `fold` of `ds1Folds(count:seed:)`: the other folds' DS1 records and
    /// this fold's.
    public static func ds1Fold(_ fold: [String], of dataset: BeatDataset) -> (train: [Int], test: [Int]) {
        let test = Set(fold)
        return byRecords(dataset, train: Set(ds1).subtracting(test), test: test)
    }

    private static func byRecords(_ dataset: BeatDataset, train: Set<String>, test: Set<String>) -> (
        train: [Int], test: [Int]
    ) {
        let side = dataset.records.map { train.contains($0.name) ? 0 : (test.contains($0.name) ? 1 : 2) }
        var result: (train: [Int], test: [Int]) = ([], [])
        for beat in 0..<dataset.count {
            switch side[Int(dataset.recordIndex[beat])] {
            case 0: result.train.append(beat)
            case 1: result.test.append(beat)
            default: continue
            }
        }
        return result
    }

    /// Holds out `fraction` of `indices` for validation, shuffled with `seed`; both parts ascend.
    public static func holdOut(_ indices: [Int], fraction: Double, seed: UInt64) -> (train: [Int], validation: [Int]) {
        var order = indices
        var generator = SplitMix64(seed: seed)
        generator.shuffle(&order)
        let count = min(order.count, max(0, Int((Double(order.count) * fraction).rounded())))
        return (order.dropFirst(count).sorted(), order.prefix(count).sorted())
    }
}

/// A 64-bit generator (Steele, Lea and Flood's SplitMix64) used for splits: tiny, fast, and the same sequence on
/// every platform, unlike the standard library's `SystemRandomNumberGenerator`.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in 0..<bound without modulo bias (Lemire's method).
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        let range = UInt64(bound)
        var product = next().multipliedFullWidth(by: range)
        if product.low < range {
            let threshold = (0 &- range) % range
            while product.low < threshold { product = next().multipliedFullWidth(by: range) }
        }
        return Int(product.high)
    }

    /// Fisher–Yates, from the back, with `below` as the only source of randomness.
    public mutating func shuffle<T>(_ values: inout [T]) {
        guard values.count > 1 else { return }
        for index in stride(from: values.count - 1, to: 0, by: -1) {
            values.swapAt(index, below(index + 1))
        }
    }
}
