import ECGFixtures
import ECGSignal
import XCTest

/// The detector under noise bursts: the signal-quality measure, the low-quality stretches, and the beats it
/// does not invent there.
final class QRSSignalQualityTests: XCTestCase {
    private let rate = 360.0
    private let burst = 60.0..<80.0  // seconds

    /// Muscle-artifact-like noise: white Gaussian noise smoothed over 5 samples (most of its power under 70 Hz,
    /// much of it inside the QRS band), `amplitude` mV RMS-ish, inside `burst` only.
    private func noisyFixture(amplitude: Double, seed: UInt64 = 7) -> (fixture: SyntheticECG, signal: [Double]) {
        let fixture = SyntheticECG.regular(samplingRate: rate, beatsPerMinute: 75, duration: 120)
        var signal = fixture.samples()
        var random = FixtureRandom(seed: seed)
        var history = [Double](repeating: 0, count: 5)
        for index in signal.indices {
            history[index % 5] = random.nextGaussian()
            let time = Double(index) / rate
            guard burst.contains(time) else { continue }
            signal[index] += amplitude * history.reduce(0, +) / 5.0.squareRoot()
        }
        return (fixture, signal)
    }

    private func burstBlocks(_ analysis: QRSAnalysis) -> Range<Int> {
        let first = Int(burst.lowerBound * rate) / analysis.blockLength + 4
        let last = Int(burst.upperBound * rate) / analysis.blockLength - 4
        return first..<last
    }

    func testACleanSignalHasNoLowQualityStretch() {
        let fixture = SyntheticECG.regular(samplingRate: rate, beatsPerMinute: 75, duration: 120)
        let analysis = QRSDetector(samplingRate: rate).analyze(fixture.samples())
        XCTAssertEqual(analysis.lowQualityStretches, [])
        XCTAssertLessThan(analysis.noiseRatio.max() ?? 1, QRSDetector.Configuration().lowQualityRatio)
    }

    func testANoiseBurstIsFlaggedAndTheCleanPartsAreNot() throws {
        let (_, signal) = noisyFixture(amplitude: 0.3)
        let analysis = QRSDetector(samplingRate: rate).analyze(signal)
        let burstSamples = Int(burst.lowerBound * rate)..<Int(burst.upperBound * rate)
        let flagged = analysis.lowQualityStretches.reduce(0) { $0 + $1.clamped(to: burstSamples).count }
        XCTAssertGreaterThan(Double(flagged), 0.8 * Double(burstSamples.count), "\(analysis.lowQualityStretches)")
        let outside = analysis.lowQualitySamples - flagged
        XCTAssertLessThan(Double(outside), 2.5 * rate, "flagged outside the burst: \(analysis.lowQualityStretches)")
    }

    /// Bxb counts inside the burst and outside it.
    private func burstCounts(amplitude: Double, configuration: QRSDetector.Configuration = .init())
        -> (inside: BeatMatchResult, outside: BeatMatchResult)
    {
        let (fixture, signal) = noisyFixture(amplitude: amplitude)
        let detections = QRSDetector(samplingRate: rate, configuration: configuration).detect(signal)
        let inBurst = { (sample: Int) in self.burst.contains(Double(sample) / self.rate) }
        let matcher = BeatMatcher(samplingRate: rate, startTime: 0)
        return (
            matcher.match(reference: fixture.peakSamples.filter(inBurst), detected: detections.filter(inBurst)),
            matcher.match(
                reference: fixture.peakSamples.filter { !inBurst($0) }, detected: detections.filter { !inBurst($0) })
        )
    }

    func testFewBeatsAreInventedInsideAModerateNoiseBurst() {
        // About 7 dB under the nst definition; 25 true beats in the burst.
        let (inside, outside) = burstCounts(amplitude: 0.15)
        XCTAssertLessThanOrEqual(inside.falsePositives, 2, "\(inside)")
        XCTAssertGreaterThanOrEqual(inside.truePositives, 23, "\(inside)")
        XCTAssertEqual(outside.falsePositives, 0, "\(outside)")
        XCTAssertLessThanOrEqual(outside.falseNegatives, 1, "\(outside)")
    }

    func testTheNoiseFloorRulesInventFewerBeatsInAHeavyBurst() {
        var withoutRules = QRSDetector.Configuration()
        withoutRules.noiseFloorFactor = 0
        withoutRules.rescueFactor = 0
        let plain = burstCounts(amplitude: 0.3, configuration: withoutRules).inside
        let guarded = burstCounts(amplitude: 0.3).inside
        XCTAssertLessThan(guarded.falsePositives, plain.falsePositives, "with \(guarded), without \(plain)")
    }

    func testTheQualityMeasureRisesMonotonicallyWithTheNoise() {
        // Up to noise of the QRS's own size (about −7 dB); beyond, the measure saturates near 0.7.
        let means = [0.0, 0.05, 0.1, 0.2, 0.4, 0.8].map { amplitude -> Double in
            let analysis = QRSDetector(samplingRate: rate).analyze(noisyFixture(amplitude: amplitude).signal)
            let ratios = analysis.noiseRatio[burstBlocks(analysis)]
            return ratios.reduce(0, +) / Double(ratios.count)
        }
        XCTAssertTrue(zip(means, means.dropFirst()).allSatisfy { $0 < $1 }, "noise ratios \(means)")
        XCTAssertLessThan(means[0], 0.1, "noise ratios \(means)")
    }

    func testAnUnreadableSignalIsOneLowQualityStretch() {
        let analysis = QRSDetector(samplingRate: rate).analyze([Double](repeating: .nan, count: 3600))
        XCTAssertEqual(analysis.beats, [])
        XCTAssertEqual(analysis.lowQualityStretches, [0..<3600])
    }

    func testTheNoiseStressProtocolAddsScaledNoiseInTwoMinuteBursts() throws {
        XCTAssertEqual(
            NoiseStressTest.noisyStretches(count: 650_000, samplingRate: 360),
            [
                108_000..<151_200, 194_400..<237_600, 280_800..<324_000, 367_200..<410_400, 453_600..<496_800,
                540_000..<583_200, 626_400..<650_000,
            ])
        // 0 dB: noise RMS = p-p QRS × √2/4.
        XCTAssertEqual(
            NoiseStressTest.noiseScale(snr: 0, qrsAmplitude: 2, noiseAmplitude: 1), 2.0.squareRoot() / 2,
            accuracy: 1e-12)
        XCTAssertEqual(
            NoiseStressTest.noiseScale(snr: 6, qrsAmplitude: 2, noiseAmplitude: 1)
                / NoiseStressTest.noiseScale(snr: 12, qrsAmplitude: 2, noiseAmplitude: 1), pow(10, 0.3),
            accuracy: 1e-12)
        // sigamp's trimmed mean leaves out the largest and smallest 5 %.
        XCTAssertEqual(
            try XCTUnwrap(NoiseStressTest.trimmedMean((1...20).map(Double.init) + [1000])), 11, accuracy: 1e-12)
        let fixture = SyntheticECG.regular(samplingRate: rate, beatsPerMinute: 60, duration: 30)
        let amplitude = try XCTUnwrap(
            NoiseStressTest.qrsAmplitude(
                signal: fixture.samples(), normalBeats: fixture.peakSamples, samplingRate: rate))
        XCTAssertGreaterThan(amplitude, 0.5)
        let sine = (0..<3600).map { sin(2 * Double.pi * 10 * Double($0) / rate) }
        XCTAssertEqual(
            try XCTUnwrap(NoiseStressTest.noiseAmplitude(noise: sine, samplingRate: rate)), 0.5.squareRoot(),
            accuracy: 1e-3)
    }
}
