import Foundation

/// How each beat window is scaled.
public enum BeatWindowNormalization: String, Sendable, CaseIterable, Codable {
    /// To [0, 1] by the window's own minimum and maximum (the original project's behaviour); a flat window
    /// becomes all zeros.
    case minMax = "minmax"
    /// To zero mean and unit standard deviation; a flat window becomes all zeros.
    case zScore = "zscore"
    /// Physical values unchanged.
    case none
}

/// Fixed-length windows cut around beats, stored contiguously: window i is
/// `samples[i * length ..< (i + 1) * length]`.
public struct BeatWindows: Equatable, Sendable {
    public var length: Int
    /// [windowCount × length] Float32 samples.
    public var samples: [Float]
    /// For each window, the index into the peaks it was cut around.
    public var peakIndices: [Int]
    /// Peaks whose window runs past either end of the signal.
    public var skippedOutOfBounds: Int
    /// Peaks whose window contains an invalid (NaN) sample.
    public var skippedInvalid: Int

    public var count: Int { peakIndices.count }

    public func window(_ index: Int) -> ArraySlice<Float> {
        samples[(index * length)..<((index + 1) * length)]
    }
}

/// Cuts a window of `length` samples centred on each peak: `(length − 1) / 2` samples before the peak, the peak,
/// and the rest after (93 + 1 + 93 for the default 187).
public struct BeatWindowExtractor: Sendable {
    public var length: Int
    public var normalization: BeatWindowNormalization

    /// The first sample a window may start at. The original project required `peak > samplesBefore`, so a window
    /// never starts at sample 0; 1 reproduces its beat counts exactly.
    public var firstStart: Int

    public init(length: Int = 187, normalization: BeatWindowNormalization = .minMax, firstStart: Int = 0) {
        self.length = max(1, length)
        self.normalization = normalization
        self.firstStart = max(0, firstStart)
    }

    /// Samples before the peak.
    public var samplesBefore: Int { (length - 1) / 2 }

    public func extract(from signal: [Float], peaks: [Int]) -> BeatWindows {
        extract(from: signal.map { Double($0) }, peaks: peaks)
    }

    /// Windows for the peaks that fit and hold only valid samples; the others are counted, not cut.
    public func extract(from signal: [Double], peaks: [Int]) -> BeatWindows {
        var result = BeatWindows(length: length, samples: [], peakIndices: [], skippedOutOfBounds: 0, skippedInvalid: 0)
        var accepted: [Int] = []  // start sample of each window kept
        accepted.reserveCapacity(peaks.count)
        signal.withUnsafeBufferPointer { input in
            for (peakIndex, peak) in peaks.enumerated() {
                let start = peak - samplesBefore
                guard start >= firstStart, start + length <= input.count else {
                    result.skippedOutOfBounds += 1
                    continue
                }
                var valid = true
                for offset in start..<(start + length) where !input[offset].isFinite {
                    valid = false
                    break
                }
                guard valid else {
                    result.skippedInvalid += 1
                    continue
                }
                accepted.append(start)
                result.peakIndices.append(peakIndex)
            }
        }
        // Filled in place: one allocation for all windows, no per-sample appends.
        result.samples = [Float](unsafeUninitializedCapacity: accepted.count * length) { buffer, initialized in
            var window = [Double](repeating: 0, count: length)
            for (index, start) in accepted.enumerated() {
                for offset in 0..<length { window[offset] = signal[start + offset] }
                normalize(&window)
                let base = index * length
                for offset in 0..<length { buffer[base + offset] = Float(window[offset]) }
            }
            initialized = accepted.count * length
        }
        return result
    }

    func normalize(_ window: inout [Double]) {
        switch normalization {
        case .none:
            return
        case .minMax:
            guard var low = window.first else { return }
            var high = low
            for value in window {
                low = Swift.min(low, value)
                high = Swift.max(high, value)
            }
            let range = high - low
            for index in window.indices { window[index] = range > 0 ? (window[index] - low) / range : 0 }
        case .zScore:
            let mean = window.reduce(0, +) / Double(window.count)
            let variance = window.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(window.count)
            let deviation = variance.squareRoot()
            for index in window.indices { window[index] = deviation > 0 ? (window[index] - mean) / deviation : 0 }
        }
    }
}
