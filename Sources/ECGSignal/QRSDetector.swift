import Foundation

/// Finds QRS complexes (R peaks) in a single-lead ECG at any sampling rate.
///
/// The method is Pan–Tompkins with Hamilton–Tompkins decision rules, run offline over the whole signal:
///
/// 1. invalid (NaN) samples are held at the last valid value, so gaps never poison the filters;
/// 2. a zero-phase Butterworth band-pass (default 5–15 Hz) keeps the QRS energy and removes baseline
///    wander, P and T waves and mains noise; zero phase keeps every later stage aligned with the raw signal;
/// 3. a five-point derivative, squaring, and a centred moving-window integration (150 ms) turn each QRS into
///    one hump of energy; its square root (an RMS slope) keeps the thresholds proportional to amplitude, so one
///    large ectopic beat does not lift them above the normal beats that follow;
/// 4. humps closer than the refractory period (200 ms) are merged, keeping the larger;
/// 5. each hump is classified as QRS or noise against an adaptive threshold between the running mean of the
///    last eight QRS peaks and of the last eight noise peaks;
/// 6. a hump within 360 ms of the previous QRS whose steepest slope is under half of that QRS's is a T wave;
/// 7. when no QRS has been found for 1.66 times the mean RR interval, the largest noise hump since the last
///    QRS is taken if it reaches half the threshold (search-back), and the search resumes after it;
///    after eight seconds without any beat the levels are learned again and that stretch is searched again;
/// 8. each detection is moved to the largest deflection of the raw signal from its local baseline.
///
/// The detector is a pure function of its input: the same samples give the same detections.
public struct QRSDetector: Sendable {
    /// Tunable constants. The defaults give gross Se 99.89 % and +P 99.85 % on the 48 MIT-BIH records (bxb
    /// rules, lead MLII); changing them changes those figures.
    public struct Configuration: Equatable, Sendable {
        /// Pass band of the QRS filter, Hz.
        public var bandLow: Double = 5
        public var bandHigh: Double = 15
        /// Length of the moving-window integrator, seconds (about the widest normal QRS).
        public var integrationWindow: Double = 0.150
        /// No two beats closer than this, seconds (the heart's refractory period).
        public var refractoryPeriod: Double = 0.200
        /// Humps this soon after a QRS (seconds) must pass the T-wave slope test.
        public var tWaveWindow: Double = 0.360
        /// Fraction of the previous QRS's steepest slope a possible T wave must reach to count as a beat.
        public var tWaveSlopeRatio: Double = 0.5
        /// Threshold position between the noise level (0) and the QRS level (1).
        public var thresholdFraction: Double = 0.3125
        /// Search back once this many mean RR intervals pass without a beat.
        public var searchBackFactor: Double = 1.66
        /// A search-back candidate needs this fraction of the threshold.
        public var searchBackThresholdRatio: Double = 0.5
        /// Half-width of the window (seconds) in which a detection is moved to the R peak.
        public var refinementRadius: Double = 0.080
        /// Learning period at the start and after a long silence, seconds.
        public var learningPeriod: Double = 8

        public init() {}
    }

    public let samplingRate: Double
    public let configuration: Configuration

    /// `samplingRate` in Hz; it must be positive and finite (a rate below ~40 Hz cannot hold a 15 Hz band).
    public init(samplingRate: Double, configuration: Configuration = Configuration()) {
        self.samplingRate = samplingRate
        self.configuration = configuration
    }

    /// Sample indices of the R peaks in `signal`, ascending.
    public func detect(_ signal: [Float]) -> [Int] {
        detect(signal.map { Double($0) })
    }

    /// Sample indices of the R peaks in `signal`, ascending. NaN marks an invalid sample.
    public func detect(_ signal: [Double]) -> [Int] {
        guard samplingRate.isFinite, samplingRate > 0 else { return [] }
        let count = signal.count
        let refractory = max(1, Int((configuration.refractoryPeriod * samplingRate).rounded()))
        guard count > refractory, var work = Self.holdingInvalidSamples(signal) else { return [] }

        // One working buffer holds the band-passed signal and then the integrated energy: each full-length
        // array costs page faults that outweigh the arithmetic, so the detector allocates only two.
        BiquadFilter.applyZeroPhase(
            BiquadFilter.butterworthHighPass(cutoff: configuration.bandLow, samplingRate: samplingRate),
            BiquadFilter.butterworthLowPass(cutoff: configuration.bandHigh, samplingRate: samplingRate),
            to: &work)
        let slope = Self.derivative(work, samplingRate: samplingRate)
        let integrationLength = max(1, Int((configuration.integrationWindow * samplingRate).rounded()))
        // The root of the integrated squared slope (an RMS slope) keeps the thresholds in the amplitude
        // domain: a large ectopic beat then raises them in proportion to its size, not to its square.
        Self.movingRootMeanSquare(of: slope, length: integrationLength, into: &work)
        let energy = work

        let candidates = Self.mergedPeaks(energy, minimumDistance: refractory)
        let beats = classify(candidates: candidates, energy: energy, slope: slope)
        return refine(beats, raw: signal)
    }

    // MARK: - Feature signal

    /// Replaces NaN samples by the last valid one (leading NaNs by the first valid one); nil when no sample
    /// is valid.
    static func holdingInvalidSamples(_ signal: [Double]) -> [Double]? {
        guard let firstValid = signal.first(where: { !$0.isNaN }) else { return nil }
        var result = signal
        result.withUnsafeMutableBufferPointer { buffer in
            var last = firstValid
            for index in 0..<buffer.count {
                if buffer[index].isNaN { buffer[index] = last } else { last = buffer[index] }
            }
        }
        return result
    }

    /// The five-point derivative of Pan–Tompkins, centred (no delay): (2x[n+1] + x[n+2] − 2x[n−1] − x[n−2]) / 8T.
    static func derivative(_ signal: [Double], samplingRate: Double) -> [Double] {
        let count = signal.count
        var result = [Double](repeating: 0, count: count)
        guard count >= 5 else { return result }
        let scale = samplingRate / 8
        signal.withUnsafeBufferPointer { input in
            result.withUnsafeMutableBufferPointer { output in
                for index in 2..<(count - 2) {
                    output[index] =
                        (2 * (input[index + 1] - input[index - 1]) + input[index + 2] - input[index - 2]) * scale
                }
            }
        }
        return result
    }

    /// The root mean square of `values` over a window of `length` samples centred on each index (shorter at the
    /// ends), written into `output` (resized to match).
    static func movingRootMeanSquare(of values: [Double], length: Int, into output: inout [Double]) {
        let count = values.count
        if output.count != count { output = [Double](repeating: 0, count: count) }
        guard count > 0 else { return }
        let before = length / 2
        let after = length - 1 - before
        let scale = 1 / Double(length)
        values.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { result in
                // A sliding sum; rounding can leave it a hair below zero after a large QRS leaves the window,
                // hence the clamp before the square root.
                var sum = 0.0
                for index in 0..<min(count, after) { sum += input[index] * input[index] }
                for index in 0..<count {
                    let entering = index + after
                    if entering < count { sum += input[entering] * input[entering] }
                    let leaving = index - before - 1
                    if leaving >= 0 { sum -= input[leaving] * input[leaving] }
                    result[index] = (max(0, sum) * scale).squareRoot()
                }
            }
        }
    }

    /// Local maxima of `signal`, with any two closer than `minimumDistance` merged into the larger.
    ///
    /// A peak is held for `minimumDistance` samples in case a larger one follows, and a larger one restarts the
    /// hold (as in Hamilton's detector), so the result's peaks are at least `minimumDistance` apart.
    static func mergedPeaks(_ signal: [Double], minimumDistance: Int) -> [Int] {
        var peaks: [Int] = []
        let count = signal.count
        guard count >= 3 else { return peaks }
        signal.withUnsafeBufferPointer { values in
            var held = -1
            for index in 1..<(count - 1) {
                let value = values[index]
                guard value > values[index - 1], value >= values[index + 1], value > 0 else { continue }
                if held >= 0 && index - held >= minimumDistance {
                    peaks.append(held)
                    held = -1
                }
                if held < 0 || value > values[held] { held = index }
            }
            if held >= 0 { peaks.append(held) }
        }
        // The hold can leave two peaks closer than the distance when a larger peak replaced the held one;
        // a final pass keeps the larger of any such pair.
        var merged: [Int] = []
        merged.reserveCapacity(peaks.count)
        for peak in peaks {
            if let last = merged.last, peak - last < minimumDistance {
                if signal[peak] > signal[last] { merged[merged.count - 1] = peak }
            } else {
                merged.append(peak)
            }
        }
        return merged
    }

    // MARK: - Decision rules

    /// A fixed-size history whose mean tracks a level (of QRS peaks, noise peaks or RR intervals).
    struct RunningLevel {
        private var values: [Double]
        private var next = 0

        init(repeating value: Double, count: Int) { values = Array(repeating: value, count: count) }

        mutating func push(_ value: Double) {
            values[next] = value
            next = (next + 1) % values.count
        }

        mutating func reset(to newValues: [Double]) {
            for index in values.indices { values[index] = newValues[index % newValues.count] }
            next = 0
        }

        var mean: Double { values.reduce(0, +) / Double(values.count) }
    }

    /// The steepest band-passed slope within the integration window around `index`.
    private func maximumSlope(around index: Int, slope: [Double]) -> Double {
        let radius = max(1, Int((configuration.integrationWindow * samplingRate / 2).rounded()))
        let low = max(0, index - radius)
        let high = min(slope.count - 1, index + radius)
        var best = 0.0
        for position in low...high { best = max(best, abs(slope[position])) }
        return best
    }

    /// Classifies candidate humps (indices into `energy`) as QRS or noise; returns the QRS humps.
    func classify(candidates: [Int], energy: [Double], slope: [Double]) -> [Int] {
        guard !candidates.isEmpty else { return [] }
        var decision = Decision(detector: self, candidates: candidates, energy: energy, slope: slope)
        var candidateIndex = 0
        while candidateIndex < candidates.count {
            let position = candidates[candidateIndex]
            if let missed = decision.missedBeat(before: position) {
                decision.accept(missed)
                candidateIndex = missed + 1
            } else if let restart = decision.relearnAfterSilence(at: candidateIndex) {
                candidateIndex = restart
            } else {
                if decision.isBeat(candidateIndex) {
                    decision.accept(candidateIndex)
                } else {
                    decision.rejectAsNoise(candidateIndex)
                }
                candidateIndex += 1
            }
        }
        // A beat missed just before the end of the signal.
        if let missed = decision.missedBeat(before: energy.count) { decision.accept(missed) }
        return decision.beats
    }

    /// The state of the decision rules as they walk the candidate humps: the running QRS, noise and RR levels,
    /// the beats so far, and the best noise hump a search-back would take.
    private struct Decision {
        let detector: QRSDetector
        let candidates: [Int]
        let energy: [Double]
        let slope: [Double]
        let learningLength: Int
        let second: Int
        let tWaveLength: Int
        var qrsLevel = RunningLevel(repeating: 0, count: 8)
        var noiseLevel = RunningLevel(repeating: 0, count: 8)
        var rrLevel: RunningLevel
        var beats: [Int] = []
        var lastBeat: Int? = nil
        var lastBeatSlope = 0.0
        /// Index into `candidates` of the largest noise hump since the last beat, outside its T-wave window.
        var searchBackCandidate: Int? = nil
        /// Where the current stretch without beats began: the last beat, the last relearning, or the start.
        var silenceStart = 0

        init(detector: QRSDetector, candidates: [Int], energy: [Double], slope: [Double]) {
            self.detector = detector
            self.candidates = candidates
            self.energy = energy
            self.slope = slope
            let samplingRate = detector.samplingRate
            learningLength = max(1, Int(detector.configuration.learningPeriod * samplingRate))
            second = max(1, Int(samplingRate))
            tWaveLength = Int(detector.configuration.tWaveWindow * samplingRate)
            rrLevel = RunningLevel(repeating: samplingRate, count: 8)
            qrsLevel.reset(to: perSecondMaxima(0..<min(energy.count, learningLength)))
        }

        private var configuration: Configuration { detector.configuration }

        /// The largest energy in each second of `range`: the starting QRS level, as in Hamilton's learning phase.
        func perSecondMaxima(_ range: Range<Int>) -> [Double] {
            var maxima: [Double] = []
            var start = range.lowerBound
            while start < range.upperBound {
                let end = min(range.upperBound, start + second)
                var best = 0.0
                for index in start..<end { best = max(best, energy[index]) }
                maxima.append(best)
                start = end
            }
            return maxima.isEmpty ? [0] : maxima
        }

        func threshold() -> Double {
            let noise = noiseLevel.mean
            return noise + configuration.thresholdFraction * (qrsLevel.mean - noise)
        }

        /// Search back: when too long has passed since the last beat by `position`, a beat was probably missed;
        /// the search-back candidate is it when it reaches a fraction of the threshold.
        func missedBeat(before position: Int) -> Int? {
            guard let previous = lastBeat, let missed = searchBackCandidate,
                Double(position - previous) > configuration.searchBackFactor * rrLevel.mean,
                energy[candidates[missed]] > configuration.searchBackThresholdRatio * threshold()
            else { return nil }
            return missed
        }

        /// After a long silence the levels are stale (a gain change, an artefact at the start, a noisy stretch):
        /// learn them again from the last learning period and look at its humps once more. Returns the candidate
        /// to go on from, or nil when the silence is not that long.
        mutating func relearnAfterSilence(at candidateIndex: Int) -> Int? {
            let position = candidates[candidateIndex]
            guard position - silenceStart > learningLength else { return nil }
            let learningStart = position - learningLength
            qrsLevel.reset(to: perSecondMaxima(learningStart..<position))
            noiseLevel.reset(to: [0])
            lastBeat = nil
            searchBackCandidate = nil
            silenceStart = position
            return candidates.firstIndex { $0 >= learningStart } ?? candidateIndex
        }

        /// Above the threshold, and not a T wave: a hump soon after a beat with a much gentler slope is that
        /// beat's T wave.
        func isBeat(_ candidateIndex: Int) -> Bool {
            let position = candidates[candidateIndex]
            guard energy[position] > threshold() else { return false }
            if let previous = lastBeat, position - previous < tWaveLength,
                detector.maximumSlope(around: position, slope: slope) < configuration.tWaveSlopeRatio * lastBeatSlope
            {
                return false
            }
            return true
        }

        mutating func accept(_ candidateIndex: Int) {
            let position = candidates[candidateIndex]
            qrsLevel.push(energy[position])
            if let previous = lastBeat { rrLevel.push(Double(position - previous)) }
            lastBeat = position
            silenceStart = position
            lastBeatSlope = detector.maximumSlope(around: position, slope: slope)
            beats.append(position)
            searchBackCandidate = nil
        }

        /// A hump that is no beat lifts the noise level, and may be taken later by search-back — unless it lies
        /// right after a beat, where it is often that beat's T wave.
        mutating func rejectAsNoise(_ candidateIndex: Int) {
            let value = energy[candidates[candidateIndex]]
            noiseLevel.push(value)
            if let previous = lastBeat, candidates[candidateIndex] - previous >= tWaveLength {
                if searchBackCandidate.map({ energy[candidates[$0]] < value }) ?? true {
                    searchBackCandidate = candidateIndex
                }
            }
        }
    }

    /// Moves each detection to the R peak: the sample of largest deviation of the raw signal from its local
    /// baseline within the refinement radius, keeping the detections ascending and distinct. Invalid (NaN)
    /// samples are never chosen.
    ///
    /// The baseline is the straight line through the mean levels just before and just after the search
    /// window (20 ms each, in the PR and ST segments' direction), which follows wander without filtering the
    /// whole record a second time.
    func refine(_ beats: [Int], raw: [Double]) -> [Int] {
        let radius = max(1, Int((configuration.refinementRadius * samplingRate).rounded()))
        let edge = max(1, Int((0.020 * samplingRate).rounded()))
        let count = raw.count
        var refined: [Int] = []
        refined.reserveCapacity(beats.count)
        raw.withUnsafeBufferPointer { signal in
            func level(_ range: Range<Int>) -> Double? {
                let clamped = max(0, range.lowerBound)..<min(count, range.upperBound)
                guard !clamped.isEmpty else { return nil }
                var sum = 0.0
                var valid = 0
                for index in clamped where !signal[index].isNaN {
                    sum += signal[index]
                    valid += 1
                }
                return valid > 0 ? sum / Double(valid) : nil
            }
            for beat in beats {
                let low = max(0, beat - radius)
                let high = min(count - 1, beat + radius)
                let before = level((low - edge)..<low)
                let after = level((high + 1)..<(high + 1 + edge))
                let startLevel = before ?? after ?? 0
                let endLevel = after ?? startLevel
                let slope = high > low ? (endLevel - startLevel) / Double(high - low) : 0
                var best = beat
                var bestValue = -1.0
                for index in low...high {
                    let deviation = abs(signal[index] - (startLevel + slope * Double(index - low)))
                    if deviation > bestValue {  // false for NaN (invalid) samples
                        bestValue = deviation
                        best = index
                    }
                }
                if let last = refined.last, best <= last { continue }
                refined.append(best)
            }
        }
        return refined
    }
}
