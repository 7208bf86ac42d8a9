import Foundation

/// A run's unique id: 26 characters of Crockford base32, ULID layout (48-bit millisecond time, then 80 random bits).
///
/// Ids sort by creation time as plain strings, so `ORDER BY id` is chronological and `@last` is the greatest id.
/// Ids made in the same millisecond by one process increase monotonically.
public struct RunID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }

    public static func < (lhs: RunID, rhs: RunID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    static let length = 26

    /// True for 26 characters of the id alphabet; used to tell run folders from anything else under `runs/`.
    public static func isWellFormed(_ text: String) -> Bool {
        text.count == length && text.allSatisfy { alphabet.contains($0) }
    }

    /// A new id for `date`, later than every id this process made before.
    public static func make(at date: Date = Date()) -> RunID {
        generator.withLock { $0.next(milliseconds: UInt64(max(0, date.timeIntervalSince1970 * 1000))) }
    }

    private static let generator = Locked(MonotonicGenerator())

    private struct MonotonicGenerator {
        var lastMilliseconds: UInt64 = 0
        var lastRandom: (high: UInt16, low: UInt64) = (0, 0)

        mutating func next(milliseconds: UInt64) -> RunID {
            if milliseconds <= lastMilliseconds {
                // Same (or an earlier, clock-stepped) millisecond: keep the time, bump the random part.
                let (low, overflow) = lastRandom.low.addingReportingOverflow(1)
                lastRandom = (overflow ? lastRandom.high &+ 1 : lastRandom.high, low)
            } else {
                lastMilliseconds = milliseconds
                var rng = SystemRandomNumberGenerator()
                lastRandom = (UInt16.random(in: 0...UInt16.max, using: &rng), rng.next())
            }
            return RunID(rawValue: encode(time: lastMilliseconds, random: lastRandom))
        }

        private func encode(time: UInt64, random: (high: UInt16, low: UInt64)) -> String {
            var characters = [Character](repeating: "0", count: RunID.length)
            var value = time
            for index in stride(from: 9, through: 0, by: -1) {
                characters[index] = RunID.alphabet[Int(value & 31)]
                value >>= 5
            }
            // 80 random bits = 16 characters of 5 bits: high 16 bits then low 64 bits.
            var low = random.low
            var high = UInt64(random.high)
            for index in stride(from: 25, through: 10, by: -1) {
                characters[index] = RunID.alphabet[Int(low & 31)]
                low = (low >> 5) | ((high & 31) << 59)
                high >>= 5
            }
            return String(characters)
        }
    }
}

/// A value guarded by a lock (Foundation's NSLock; `Mutex` needs newer platforms than we target).
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
