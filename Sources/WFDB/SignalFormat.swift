/// The storage formats of signal(5) that this library decodes and encodes.
///
/// Packed formats store `samplesPerUnit` samples in `bytesPerUnit` bytes; the packing runs across
/// the interleaved sample stream of a file, not per signal.
public enum SignalFormat: Int, CaseIterable, Sendable {
    /// Format 0: the signal is not stored (a layout placeholder); every sample reads as invalid.
    case null = 0
    case diff8 = 8
    case int16 = 16
    case int24 = 24
    case int32 = 32
    case int16BigEndian = 61
    case offset8 = 80
    case offset16 = 160
    case packed212 = 212
    case packed310 = 310
    case packed311 = 311

    /// The FLAC-based formats; recognised so they can be refused by name.
    static let compressed: Set<Int> = [508, 516, 524]

    /// Samples in one packing unit.
    public var samplesPerUnit: Int {
        switch self {
        case .packed212: return 2
        case .packed310, .packed311: return 3
        default: return 1
        }
    }

    /// Bytes in one packing unit.
    public var bytesPerUnit: Int {
        switch self {
        case .diff8, .offset8: return 1
        case .null, .int16, .int16BigEndian, .offset16: return 2
        case .int24, .packed212: return 3
        case .int32, .packed310, .packed311: return 4
        }
    }

    /// Bits of resolution a sample can hold.
    public var bits: Int {
        switch self {
        case .diff8, .offset8: return 8
        case .null, .int16, .int16BigEndian, .offset16: return 16
        case .int24: return 24
        case .int32: return 32
        case .packed212: return 12
        case .packed310, .packed311: return 10
        }
    }

    /// The ADC resolution a signal has when its header leaves the field out or gives 0. header(5): "12 bits
    /// for amplitude-format signals, or 10 bits for difference-format signals (unless a lower value is
    /// specified by the format field)".
    ///
    /// | format | bits | why |
    /// | --- | --- | --- |
    /// | 8 (first differences) | 10 | difference format |
    /// | 80 (8-bit offset) | 8 | the format holds fewer than 12 |
    /// | 310, 311 (10-bit packed) | 10 | the format holds fewer than 12 |
    /// | 212 | 12 | amplitude format |
    /// | 16, 61, 160, 24, 32 | 12 | amplitude format |
    /// | 0 (null) | 12 | no samples; the amplitude default |
    ///
    /// The WFDB library (libwfdb 10.7) agrees except for formats 8 (12) and 160 (16); wfdb-python uses
    /// each format's width (16 for 16, 61 and 160; 24; 32; 8 for 8). Only `info` shows the value: it bounds
    /// no sample, so decoding and physical values are the same under all three.
    public var defaultADCResolution: Int {
        switch self {
        case .diff8: return 10
        case .offset8: return 8
        case .packed310, .packed311: return 10
        case .null, .int16, .int16BigEndian, .offset16, .int24, .int32, .packed212: return 12
        }
    }

    /// The digital value that marks a missing sample; format 8 (first differences) has none.
    public var invalidValue: Int32? {
        switch self {
        case .diff8: return nil
        case .int32: return Int32.min
        default: return Int32(truncatingIfNeeded: -(Int64(1) << (bits - 1)))
        }
    }

    /// The representable digital range (format 8 stores differences, so any Int32 value is allowed).
    public var valueRange: ClosedRange<Int32> {
        switch self {
        case .diff8, .int32: return Int32.min...Int32.max
        default:
            let half = Int32(truncatingIfNeeded: Int64(1) << (bits - 1))
            return -half...(half - 1)
        }
    }

    /// Bytes needed to hold the first `samples` samples of a stream, counting a partial last unit
    /// only up to the bytes its samples occupy (as the WFDB library writes them).
    /// Saturates at `Int.max` for sample counts no file could hold.
    public func bytesNeeded(samples: Int) -> Int {
        let units = samples / samplesPerUnit
        let rest = samples % samplesPerUnit
        let (product, overflow) = units.multipliedReportingOverflow(by: bytesPerUnit)
        if overflow || product > Int.max - 4 { return Int.max }
        var bytes = product
        if rest > 0 {
            switch self {
            case .packed212: bytes += 2
            case .packed310: bytes += rest == 1 ? 2 : 4
            case .packed311: bytes += rest == 1 ? 2 : 3
            default: break
            }
        }
        return bytes
    }

    /// Whole samples that `bytes` bytes hold.
    public func samplesHeld(bytes: Int) -> Int {
        let units = bytes / bytesPerUnit
        let rest = bytes % bytesPerUnit
        var samples = units * samplesPerUnit
        switch self {
        case .packed212: if rest >= 2 { samples += 1 }
        case .packed310: if rest >= 2 { samples += 1 }
        case .packed311: samples += rest >= 3 ? 2 : (rest >= 2 ? 1 : 0)
        default: break
        }
        return samples
    }
}
