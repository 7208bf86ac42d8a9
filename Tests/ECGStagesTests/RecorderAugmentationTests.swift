import ECGSignal
import NeuralNet
import XCTest

@testable import ECGStages

/// Training windows as other recorders would give them: seeded, normalised again, band-limited by the round trip.
final class RecorderAugmentationTests: XCTestCase {
    /// A min-max window of a beat: a QRS spike and a P wave.
    private var beat: [Float] {
        let raw = (0..<187).map { index -> Double in
            let t = (Double(index) - 93) / 360
            return exp(-t * t / 0.000_128) + 0.15 * exp(-(t + 0.16) * (t + 0.16) / 0.0008)
        }
        let low = raw.min() ?? 0
        let high = raw.max() ?? 1
        return raw.map { Float(($0 - low) / (high - low)) }
    }

    /// Tabulating the round trips is the costly part: once for the tests.
    private static let simulator = RecorderSimulator(
        {
            var augmentation = RecorderAugmentation()
            augmentation.probability = 1
            augmentation.amplitudeScale = 0.5
            augmentation.wander = 0.3
            augmentation.noise = 0.05
            augmentation.rates = [128, 250]
            return augmentation
        }(), length: 187, samplingRate: 360, normalization: .minMax)

    private func augmented(_ window: [Float], seed: UInt64) -> [Float] {
        var random = RandomGenerator(seed: seed)
        var copy = window
        copy.withUnsafeMutableBufferPointer { Self.simulator.apply(to: $0, random: &random) }
        return copy
    }

    func testTheSameSeedGivesTheSameWindowAndAnotherSeedAnother() {
        XCTAssertEqual(augmented(beat, seed: 3), augmented(beat, seed: 3))
        XCTAssertNotEqual(augmented(beat, seed: 3), augmented(beat, seed: 4))
        XCTAssertNotEqual(augmented(beat, seed: 3), beat)
    }

    func testAugmentedWindowsAreNormalisedAsTheStoredOnesAndKeepTheirBeat() {
        for seed in 0..<50 {
            let window = augmented(beat, seed: UInt64(seed))
            XCTAssertEqual(window.min() ?? -1, 0, accuracy: 1e-6)
            XCTAssertEqual(window.max() ?? -1, 1, accuracy: 1e-6)
            XCTAssertTrue(window.allSatisfy(\.isFinite))
            let peak = window.indices.max { window[$0] < window[$1] } ?? 0
            XCTAssertTrue((90...96).contains(peak), "seed \(seed): the R peak moved to \(peak)")
        }
    }

    func testTheRoundTripThroughALowerRateKeepsSlowWavesAndRemovesFastOnes() {
        let matrix = RecorderSimulator.roundTripMatrix(length: 187, rate: 360, through: 128)
        func through(_ frequency: Double) -> [Double] {
            let input = (0..<187).map { sin(2 * Double.pi * frequency * Double($0) / 360) }
            return (0..<187).map { row in (0..<187).reduce(0.0) { $0 + Double(matrix[row * 187 + $1]) * input[$1] } }
        }
        let slow = through(10)
        for index in 50..<137 {
            XCTAssertEqual(slow[index], sin(2 * Double.pi * 10 * Double(index) / 360), accuracy: 2e-3)
        }
        // 100 Hz is above 128 Hz's Nyquist (64 Hz): the recorder could not have held it.
        let fast = through(100)[50..<137]
        XCTAssertLessThan((fast.reduce(0) { $0 + $1 * $1 } / Double(fast.count)).squareRoot(), 0.01)
    }

    func testTheDatasetsOwnRateIsNoRoundTripAndAConstantPassesEveryRate() {
        let identity = RecorderSimulator.roundTripMatrix(length: 5, rate: 360, through: 360)
        XCTAssertEqual(identity, [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])
        for rate in [128.0, 250] {
            let matrix = RecorderSimulator.roundTripMatrix(length: 187, rate: 360, through: rate)
            for row in 0..<187 {
                let sum = (0..<187).reduce(0.0) { $0 + Double(matrix[row * 187 + $1]) }
                XCTAssertEqual(sum, 1, accuracy: 1e-4, "rate \(rate), row \(row)")
            }
        }
    }
}
