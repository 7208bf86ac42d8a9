/// Whether a signal's samples matched the header's 16-bit checksum.
public enum ChecksumStatus: Equatable, Sendable {
    /// Only part of the signal was read, so the checksum could not be verified.
    case notChecked
    /// The header gives no checksum.
    case absent
    case ok
    case mismatch(expected: Int, computed: Int)

    /// The status of a signal read in parts (segments): any mismatch wins, then any part not
    /// checked, then any verified part; parts without data or checksum do not count.
    public static func combined(_ parts: [ChecksumStatus]) -> ChecksumStatus {
        if let mismatch = parts.first(where: { if case .mismatch = $0 { return true } else { return false } }) {
            return mismatch
        }
        if parts.contains(.notChecked) { return .notChecked }
        return parts.contains(.ok) ? .ok : .absent
    }

    /// A warning line for a mismatch; nil for any other status.
    public func warning(record: String, signal: Int, description: String) -> String? {
        guard case .mismatch(let expected, let computed) = self else { return nil }
        return "\(record): signal \(signal) (\(description)): checksum mismatch: header \(expected), data \(computed)"
    }

    public var label: String {
        switch self {
        case .notChecked: return "not checked"
        case .absent: return "absent"
        case .ok: return "ok"
        case .mismatch: return "mismatch"
        }
    }
}

/// The decoded samples of one signal over a frame range.
public struct SignalChannel: Sendable {
    /// Index of the signal in the record.
    public var signalIndex: Int
    /// The signal's header line (for multi-segment records, the layout's).
    public var spec: SignalSpec
    /// Digital samples, `samplesPerFrame` per frame; invalid samples hold `invalidValue`.
    public var digital: [Int32]
    /// The marker of a missing sample (nil for format 8 signals with no gaps).
    public var invalidValue: Int32?
    public var invalidCount: Int
    public var checksum: ChecksumStatus
    /// Wrapping sum of the digital samples (the checksum before truncation to 16 bits).
    var sampleSum: Int = 0

    public var samplesPerFrame: Int { spec.samplesPerFrame }

    /// Physical values, (digital − baseline) / gain; NaN where a sample is invalid.
    public func physical() -> [Double] {
        var values: [Double] = []
        physical(into: &values)
        return values
    }

    /// Writes the physical values into `buffer` (reusing its storage); returns the number of invalid
    /// (NaN) samples.
    @discardableResult
    public func physical(into buffer: inout [Double]) -> Int {
        let count = digital.count
        if buffer.count == count {
            buffer.withUnsafeMutableBufferPointer { destination in
                guard let out = destination.baseAddress else { return }
                writePhysical(into: out)
            }
        } else {
            // A new array written once, not zeroed first.
            buffer = [Double](unsafeUninitializedCapacity: count) { destination, initialized in
                if let out = destination.baseAddress { writePhysical(into: out) }
                initialized = count
            }
        }
        return invalidCount
    }

    /// out[0..<digital.count] = the physical values, NaN for invalid samples.
    private func writePhysical(into out: UnsafeMutablePointer<Double>) {
        let gain = spec.gain
        let baseline = Double(spec.baseline)
        digital.withUnsafeBufferPointer { source in
            guard let input = source.baseAddress else { return }
            // A plain loop vectorises; the few invalid samples are patched afterwards.
            for i in 0..<source.count { out[i] = (Double(input[i]) - baseline) / gain }
            if invalidCount > 0, let marker = invalidValue {
                for i in 0..<source.count where input[i] == marker { out[i] = .nan }
            }
        }
    }

    public func isInvalid(_ value: Int32) -> Bool { value == invalidValue }
}

/// Decoded samples of some signals of a record over frames `firstFrame ..< firstFrame + frameCount`.
public struct SignalBlock: Sendable {
    public var record: String
    public var firstFrame: Int
    public var frameCount: Int
    public var channels: [SignalChannel]

    /// One line per checksum mismatch (a warning, not an error).
    public var warnings: [String] {
        channels.compactMap { channel in
            channel.checksum.warning(record: record, signal: channel.signalIndex, description: channel.spec.description)
        }
    }
}
