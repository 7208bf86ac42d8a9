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
    /// For each window, its peak-to-peak amplitude before normalisation (maximum − minimum).
    public var amplitudes: [Double] = []
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
        result.peakIndices.reserveCapacity(peaks.count)
        let length = length
        signal.withUnsafeBufferPointer { input in
            guard let base = input.baseAddress else {
                result.skippedOutOfBounds = peaks.count
                return
            }
            // Most records hold no invalid sample at all: then no window needs the check.
            let anyInvalid = Self.containsNonFinite(input)
            for (peakIndex, peak) in peaks.enumerated() {
                let start = peak - samplesBefore
                guard start >= firstStart, start + length <= input.count else {
                    result.skippedOutOfBounds += 1
                    continue
                }
                if anyInvalid, UnsafeBufferPointer(start: base + start, count: length).contains(where: { !$0.isFinite })
                {
                    result.skippedInvalid += 1
                    continue
                }
                accepted.append(start)
                result.peakIndices.append(peakIndex)
            }
        }
        // Filled in place: one allocation for all windows, no per-sample appends.
        var amplitudes = [Double](repeating: 0, count: accepted.count)
        result.samples = [Float](unsafeUninitializedCapacity: accepted.count * length) { buffer, initialized in
            signal.withUnsafeBufferPointer { input in
                guard let source = input.baseAddress, let destination = buffer.baseAddress else { return }
                for (index, start) in accepted.enumerated() {
                    amplitudes[index] = normalize(source + start, into: destination + index * length, count: length)
                }
            }
            initialized = accepted.count * length
        }
        result.amplitudes = amplitudes
        return result
    }

    /// Writes the normalised window source[0..<count] to destination (Float32) and returns its peak-to-peak
    /// amplitude. The arithmetic is Double, as numpy's on the physical signal: min-max is (x − min) / (max − min),
    /// z-score (x − mean) / std.
    @inline(__always)
    public func normalize(_ source: UnsafePointer<Double>, into destination: UnsafeMutablePointer<Float>, count: Int)
        -> Double
    {
        let (low, high) = Self.range(source, count: count)
        let span = high - low
        switch normalization {
        case .none:
            for i in 0..<count { destination[i] = Float(source[i]) }
        case .minMax:
            guard span > 0 else {
                destination.update(repeating: 0, count: count)
                return span
            }
            var i = 0
            while i + 4 <= count {
                let x = UnsafeRawPointer(source + i).loadUnaligned(as: SIMD4<Double>.self)
                let y = (x - low) / span
                UnsafeMutableRawPointer(destination + i).storeBytes(
                    of: SIMD4<Float>(Float(y[0]), Float(y[1]), Float(y[2]), Float(y[3])), as: SIMD4<Float>.self)
                i += 4
            }
            while i < count {
                destination[i] = Float((source[i] - low) / span)
                i += 1
            }
        case .zScore:
            var sum = 0.0
            for i in 0..<count { sum += source[i] }
            let mean = sum / Double(count)
            var squares = 0.0
            for i in 0..<count { squares += (source[i] - mean) * (source[i] - mean) }
            let deviation = (squares / Double(count)).squareRoot()
            for i in 0..<count { destination[i] = deviation > 0 ? Float((source[i] - mean) / deviation) : 0 }
        }
        return span
    }

    /// Whether any value is NaN or infinite: x · 0 is NaN exactly for those, and a NaN survives the sums.
    static func containsNonFinite(_ values: UnsafeBufferPointer<Double>) -> Bool {
        guard let base = values.baseAddress else { return false }
        var probe = SIMD4<Double>()
        var i = 0
        while i + 4 <= values.count {
            probe += UnsafeRawPointer(base + i).loadUnaligned(as: SIMD4<Double>.self) * 0
            i += 4
        }
        var total = probe.sum()
        while i < values.count {
            total += base[i] * 0
            i += 1
        }
        return total.isNaN
    }

    /// The minimum and maximum of source[0..<count] (count ≥ 1; the values are finite).
    @inline(__always)
    static func range(_ source: UnsafePointer<Double>, count: Int) -> (Double, Double) {
        var low = SIMD4<Double>(repeating: source[0])
        var high = low
        var i = 0
        while i + 4 <= count {
            let x = UnsafeRawPointer(source + i).loadUnaligned(as: SIMD4<Double>.self)
            // Compare and blend: pointwiseMin's NaN rules keep it scalar, and the values here are finite.
            low.replace(with: x, where: x .< low)
            high.replace(with: x, where: x .> high)
            i += 4
        }
        var lowest = low.min()
        var highest = high.max()
        while i < count {
            lowest = Swift.min(lowest, source[i])
            highest = Swift.max(highest, source[i])
            i += 1
        }
        return (lowest, highest)
    }
}
