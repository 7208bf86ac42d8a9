/// One signal line of a header (header(5)), with WFDB's defaults filled in.
public struct SignalSpec: Equatable, Sendable {
    /// The signal file's name, relative to the header's directory; `~` for a layout placeholder.
    public var fileName: String
    public var format: SignalFormat
    public var samplesPerFrame: Int = 1
    /// Stored frame of logical sample `n` is `n + skew`.
    public var skew: Int = 0
    /// Bytes to skip at the start of the signal file (a prolog).
    public var byteOffset: Int = 0
    /// ADC units per physical unit.
    public var gain: Double = 200
    /// Digital value of physical zero.
    public var baseline: Int = 0
    public var units: String = "mV"
    /// Bits of ADC resolution. A parsed header that leaves it out (or gives 0) gets header(5)'s default,
    /// `format.defaultADCResolution`; a spec built in code defaults to the format's width, which its data fits.
    public var adcResolution: Int
    public var adcZero: Int = 0
    public var initialValue: Int = 0
    /// The 16-bit checksum of all the signal's samples, when the header gives one.
    public var checksum: Int?
    public var blockSize: Int = 0
    public var description: String
    /// 1-based line in the header file; 0 for specs built in code.
    public var line: Int = 0
    /// The fields the parser filled in with header(5)'s defaults, in line order; empty for specs built in code.
    public var defaults: [AppliedDefault] = []

    public init(
        fileName: String, format: SignalFormat, samplesPerFrame: Int = 1, skew: Int = 0,
        byteOffset: Int = 0, gain: Double = 200, baseline: Int? = nil, units: String = "mV",
        adcResolution: Int? = nil, adcZero: Int = 0, initialValue: Int? = nil,
        checksum: Int? = nil, blockSize: Int = 0, description: String = ""
    ) {
        self.fileName = fileName
        self.format = format
        self.samplesPerFrame = samplesPerFrame
        self.skew = skew
        self.byteOffset = byteOffset
        self.gain = gain
        self.baseline = baseline ?? adcZero
        self.units = units
        self.adcResolution = adcResolution ?? format.bits
        self.adcZero = adcZero
        self.initialValue = initialValue ?? adcZero
        self.checksum = checksum
        self.blockSize = blockSize
        self.description = description
    }

    /// Physical value of a digital sample: (digital − baseline) / gain.
    @inlinable public func physical(_ digital: Int32) -> Double {
        (Double(digital) - Double(baseline)) / gain
    }

    /// The default applied to `field`, if the parser applied one.
    public func appliedDefault(_ field: HeaderField) -> AppliedDefault? {
        defaults.first { $0.field == field }
    }

    /// WFDB's gain for a signal whose gain is zero or missing ("uncalibrated"), in ADC units per physical unit.
    public static let defaultGain = 200.0
}

/// A header(5) field that has a default.
public enum HeaderField: String, CaseIterable, Sendable {
    case samplingFrequency = "sampling frequency"
    case counterFrequency = "counter frequency"
    case baseCounter = "base counter value"
    case sampleCount = "number of samples"
    case gain = "ADC gain"
    case baseline
    case units
    case adcResolution = "ADC resolution"
    case adcZero = "ADC zero"
    case initialValue = "initial value"
    case checksum
    case blockSize = "block size"
    case description

    /// The key of the field in `pipe wfdb info --json`.
    public var jsonKey: String {
        switch self {
        case .samplingFrequency: return "samplingFrequency"
        case .counterFrequency: return "counterFrequency"
        case .baseCounter: return "baseCounter"
        case .sampleCount: return "samples"
        case .gain: return "gain"
        case .baseline: return "baseline"
        case .units: return "units"
        case .adcResolution: return "adcResolution"
        case .adcZero: return "adcZero"
        case .initialValue: return "initialValue"
        case .checksum: return "headerChecksum"
        case .blockSize: return "blockSize"
        case .description: return "description"
        }
    }
}

/// A field the parser filled in because the header left it out, or gave the value header(5) reads as "use the
/// default" (a gain or an ADC resolution of 0, a counter frequency that is not positive, 0 samples).
public struct AppliedDefault: Equatable, Sendable {
    public var field: HeaderField
    /// The header's text for the field; nil when the header leaves it out.
    public var given: String?
    /// Where the value in effect comes from, when it is not a constant ("the ADC zero", "format 16").
    public var rule: String?

    public init(_ field: HeaderField, given: String? = nil, rule: String? = nil) {
        self.field = field
        self.given = given
        self.rule = rule
    }

    /// Why the default applies, e.g. `header says 0` or `not in header; the ADC zero`.
    public var reason: String {
        (given.map { "header says \($0)" } ?? "not in header") + (rule.map { "; \($0)" } ?? "")
    }
}

/// How a header's text was decoded: UTF-8 when the bytes are valid UTF-8, else ISO 8859-1 (Latin-1), which
/// older WFDB tools wrote (`µV` as the single byte 0xB5). The writer encodes the header back the same way, so
/// 8-bit bytes in units, descriptions and comments come back byte for byte.
public enum HeaderTextEncoding: Sendable {
    case utf8
    case latin1
}

/// One segment line of a multi-segment header.
public struct SegmentSpec: Equatable, Sendable {
    /// Segment record name; `~` for a null segment (no data, all samples invalid).
    public var name: String
    public var sampleCount: Int
    public var isNull: Bool { name == "~" }

    public init(name: String, sampleCount: Int) {
        self.name = name
        self.sampleCount = sampleCount
    }
}

/// A parsed header file: the record line, its signal or segment lines, and its comments.
public struct RecordHeader: Equatable, Sendable {
    public var name: String
    /// Signal lines (for a multi-segment record, empty: signals come from the segments).
    public var signals: [SignalSpec]
    /// Declared number of signals (equals `signals.count` for single-segment records).
    public var signalCount: Int
    /// Segment lines when the record is multi-segment.
    public var segments: [SegmentSpec]?
    public var samplingFrequency: Double = 250
    /// The header's counter frequency; nil when it gives none or one that is not positive (see
    /// `effectiveCounterFrequency`).
    public var counterFrequency: Double?
    public var baseCounter: Double?
    /// Frames per signal as the header gives them; nil when it leaves them out. nil and 0 both mean
    /// "unspecified" (see `specifiedSampleCount`): the length is then derived from the file size.
    public var sampleCount: Int?
    public var baseTime: String?
    public var baseDate: String?
    /// `#` comment lines, without the `#`, in order (info strings).
    public var comments: [String] = []
    /// The record-line fields the parser filled in with header(5)'s defaults.
    public var defaults: [AppliedDefault] = []
    public var textEncoding: HeaderTextEncoding = .utf8
    /// 1-based numbers of the signal (or segment) lines past the declared count, which header(5) disregards.
    public var ignoredLines: [Int] = []

    public init(
        name: String, signals: [SignalSpec], samplingFrequency: Double = 250, sampleCount: Int? = nil,
        segments: [SegmentSpec]? = nil, signalCount: Int? = nil
    ) {
        self.name = name
        self.signals = signals
        self.signalCount = signalCount ?? signals.count
        self.samplingFrequency = samplingFrequency
        self.sampleCount = sampleCount
        self.segments = segments
    }

    public var isMultiSegment: Bool { segments != nil }

    /// The sample count when the header specifies one; header(5) reads 0 like a missing count ("unspecified":
    /// the length comes from the signal file and checksums are not verified).
    public var specifiedSampleCount: Int? { sampleCount.flatMap { $0 > 0 ? $0 : nil } }

    /// The counter frequency in effect: the sampling frequency when the header gives none (or one ≤ 0).
    public var effectiveCounterFrequency: Double { counterFrequency ?? samplingFrequency }

    /// The counter value of sample 0 in effect: 0 when the header gives none.
    public var effectiveBaseCounter: Double { baseCounter ?? 0 }

    /// The default applied to record-line `field`, if the parser applied one.
    public func appliedDefault(_ field: HeaderField) -> AppliedDefault? {
        defaults.first { $0.field == field }
    }

    /// Sets the rule of the default applied to `field`, if there is one.
    mutating func setRule(_ field: HeaderField, _ rule: String) {
        if let index = defaults.firstIndex(where: { $0.field == field }) { defaults[index].rule = rule }
    }

    /// The sampling frequencies a header may declare. The slowest records on PhysioNet are minute-by-minute
    /// trends (1/60 Hz) and the fastest physiological recordings run at tens of kHz; outside 0.001 Hz – 1 MHz a
    /// rate is a typo or an attack (`1e12`), and times, durations and resampled lengths derived from it overflow
    /// or ask for absurd amounts of memory.
    public static let samplingFrequencyRange: ClosedRange<Double> = 0.001...1_000_000
}
