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
    /// Bits of ADC resolution; the format's width when the header leaves it out.
    public var adcResolution: Int
    public var adcZero: Int = 0
    public var initialValue: Int = 0
    /// The 16-bit checksum of all the signal's samples, when the header gives one.
    public var checksum: Int?
    public var blockSize: Int = 0
    public var description: String
    /// 1-based line in the header file; 0 for specs built in code.
    public var line: Int = 0

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
    public var counterFrequency: Double?
    public var baseCounter: Double?
    /// Frames per signal; nil when the header leaves it out (then derived from the file size).
    public var sampleCount: Int?
    public var baseTime: String?
    public var baseDate: String?
    /// `#` comment lines, without the `#`, in order (info strings).
    public var comments: [String] = []

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

    /// The sampling frequencies a header may declare. The slowest records on PhysioNet are minute-by-minute
    /// trends (1/60 Hz) and the fastest physiological recordings run at tens of kHz; outside 0.001 Hz – 1 MHz a
    /// rate is a typo or an attack (`1e12`), and times, durations and resampled lengths derived from it overflow
    /// or ask for absurd amounts of memory.
    public static let samplingFrequencyRange: ClosedRange<Double> = 0.001...1_000_000
}
