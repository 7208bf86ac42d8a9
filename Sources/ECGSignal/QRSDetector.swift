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
/// Under noise (a muscle-artefact or motion burst), the noise lifts the energy between the beats. The detector
/// measures that noise floor (a low quantile of the energy over 2 s, every 0.5 s); where it exceeds 0.4 of the
/// running QRS level, a hump (found directly or by search-back) must also stand 4 times above the floor, or
/// 1.2 times above it with a slope waveform that correlates with the template of the clean beats (≥ 0.6). The
/// floor over the local QRS level is the signal-quality measure of each block; blocks above 0.25 form the
/// low-quality stretches of `analyze`.
///
/// The detector is a pure function of its input: the same samples give the same detections.
public struct QRSDetector: Sendable {
    /// Tunable constants. The defaults give gross Se 99.89 % and +P 99.85 % on the 48 MIT-BIH records (bxb
    /// rules, lead MLII), and the noise stress figures of `bench/qrs --noise`; changing them changes those figures.
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
        /// The noise floor is measured in blocks of this length (seconds), each over a centred window of
        /// `noiseFloorWindow` seconds, as the `noiseFloorQuantile` quantile of the energy there.
        public var noiseFloorBlock: Double = 0.5
        public var noiseFloorWindow: Double = 2
        public var noiseFloorQuantile: Double = 0.2
        /// A hump must exceed this multiple of the local noise floor to be a beat (found directly or by
        /// search-back): in a noise burst the floor rises with the noise, and noise humps stay below it.
        public var noiseFloorFactor: Double = 4
        /// The noise-floor test applies only where the floor exceeds this fraction of the running QRS level
        /// (0: everywhere): on a clean signal the usual threshold decides alone, so low-amplitude beats among
        /// flutter waves are not lost to it.
        public var noiseFloorGate: Double = 0.4
        /// Inside noise, a hump between `rescueFactor` and `noiseFloorFactor` times the floor is still a beat when
        /// its slope waveform correlates with the template of the clean beats at least `rescueCorrelation` (0
        /// factor: no rescue). Noise humps have no QRS shape; the patient's beats keep theirs under the noise.
        public var rescueFactor: Double = 1.2
        public var rescueCorrelation: Double = 0.6
        /// A block is of low quality when its noise floor exceeds this fraction of the local QRS level.
        public var lowQualityRatio: Double = 0.25
        /// Context (seconds each side) over which the local QRS level is the median of the beats' energies.
        public var qualityContext: Double = 15
        /// Low-quality stretches shorter than this (seconds) are not reported; those less than `lowQualityGap`
        /// seconds apart are reported as one.
        public var minimumLowQualityStretch: Double = 1
        public var lowQualityGap: Double = 3

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
        analyze(signal).beats
    }

    /// The R peaks of `signal` with its signal quality. NaN marks an invalid sample.
    public func analyze(_ signal: [Float]) -> QRSAnalysis {
        analyze(signal.map { Double($0) })
    }

    /// The R peaks of `signal` with its signal quality. NaN marks an invalid sample.
    public func analyze(_ signal: [Double]) -> QRSAnalysis {
        guard samplingRate.isFinite, samplingRate > 0 else {
            return QRSAnalysis(beats: [], blockLength: 1, noiseRatio: [], lowQualityStretches: [])
        }
        let blockLength = max(1, Int((configuration.noiseFloorBlock * samplingRate).rounded()))
        let count = signal.count
        let refractory = max(1, Int((configuration.refractoryPeriod * samplingRate).rounded()))
        guard count > refractory, var work = Self.holdingInvalidSamples(signal) else {
            return unreadable(count: count, blockLength: blockLength)
        }

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
        let floor = noiseFloor(energy, blockLength: blockLength)
        let humps = classify(
            candidates: candidates, energy: energy, slope: slope, floor: floor, blockLength: blockLength)
        let quality = noiseRatio(
            floor: floor, blockLength: blockLength, beatEnergies: humps.map { (position: $0, energy: energy[$0]) })
        return QRSAnalysis(
            beats: refine(humps, raw: signal), blockLength: blockLength, noiseRatio: quality,
            lowQualityStretches: lowQualityStretches(quality, blockLength: blockLength, count: count))
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

    /// Classifies candidate humps (indices into `energy`) as QRS or noise; returns the QRS humps. `floor` holds
    /// the noise floor of each block of `blockLength` samples.
    func classify(candidates: [Int], energy: [Double], slope: [Double], floor: [Double], blockLength: Int) -> [Int] {
        guard !candidates.isEmpty else { return [] }
        var decision = Decision(
            detector: self, candidates: candidates, energy: energy, slope: slope, floor: floor,
            blockLength: blockLength)
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
        let floor: [Double]
        let blockLength: Int
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
        /// The mean unit-norm slope waveform of the beats accepted where the signal was clean, `templateRadius`
        /// samples each side of the energy peak; empty until the first such beat.
        var template: [Double] = []
        let templateRadius: Int
        /// How far (samples) a candidate's waveform may be shifted against the template.
        let lagRadius: Int

        init(
            detector: QRSDetector, candidates: [Int], energy: [Double], slope: [Double], floor: [Double],
            blockLength: Int
        ) {
            self.detector = detector
            self.candidates = candidates
            self.energy = energy
            self.slope = slope
            self.floor = floor
            self.blockLength = blockLength
            let samplingRate = detector.samplingRate
            learningLength = max(1, Int(detector.configuration.learningPeriod * samplingRate))
            second = max(1, Int(samplingRate))
            tWaveLength = Int(detector.configuration.tWaveWindow * samplingRate)
            templateRadius = max(2, Int((0.060 * samplingRate).rounded()))
            lagRadius = max(1, Int((0.020 * samplingRate).rounded()))
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

        /// Whether `position` lies where the noise floor is high enough for the noise-floor test.
        func isNoisy(_ position: Int) -> Bool {
            let block = min(floor.count - 1, position / blockLength)
            return block >= 0 && floor[block] > configuration.noiseFloorGate * qrsLevel.mean
        }

        /// Whether the hump at `position` stands above the local noise floor: clearly, or somewhat and with the
        /// shape of the clean beats.
        func clearsNoiseFloor(_ position: Int) -> Bool {
            guard isNoisy(position) else { return true }
            let level = floor[min(floor.count - 1, position / blockLength)]
            let value = energy[position]
            if value > configuration.noiseFloorFactor * level { return true }
            guard configuration.rescueFactor > 0, value > configuration.rescueFactor * level, !template.isEmpty
            else { return false }
            return templateCorrelation(at: position) >= configuration.rescueCorrelation
        }

        /// The unit-norm slope waveform around `position`; nil too near the ends or where it is flat.
        func waveform(at position: Int) -> [Double]? {
            guard position - templateRadius >= 0, position + templateRadius < slope.count else { return nil }
            let segment = Array(slope[(position - templateRadius)...(position + templateRadius)])
            let norm = segment.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? segment.map { $0 / norm } : nil
        }

        /// The largest correlation of the waveform at `position`, shifted by up to `lagRadius`, with the template.
        func templateCorrelation(at position: Int) -> Double {
            var best = -1.0
            for lag in -lagRadius...lagRadius {
                guard let segment = waveform(at: position + lag) else { continue }
                var product = 0.0
                for index in segment.indices { product += segment[index] * template[index] }
                best = max(best, product)
            }
            return best
        }

        /// Search back: when too long has passed since the last beat by `position`, a beat was probably missed;
        /// the search-back candidate is it when it reaches a fraction of the threshold.
        func missedBeat(before position: Int) -> Int? {
            guard let previous = lastBeat, let missed = searchBackCandidate,
                Double(position - previous) > configuration.searchBackFactor * rrLevel.mean,
                energy[candidates[missed]] > configuration.searchBackThresholdRatio * threshold(),
                clearsNoiseFloor(candidates[missed])
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
            guard energy[position] > threshold(), clearsNoiseFloor(position) else { return false }
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
            if !isNoisy(position), let segment = waveform(at: position) {
                if template.isEmpty {
                    template = segment
                } else {
                    // A slow average keeps the dominant morphology; renormalised so correlations stay in −1...1.
                    for index in template.indices { template[index] = 0.9 * template[index] + 0.1 * segment[index] }
                    let norm = template.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    if norm > 0 { for index in template.indices { template[index] /= norm } }
                }
            }
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
