import ECGSignal
import XCTest

final class ResamplerTests: XCTestCase {
    private func sine(frequency: Double, rate: Double, seconds: Double) -> [Double] {
        (0..<Int(seconds * rate)).map { sin(2 * Double.pi * frequency * Double($0) / rate) }
    }

    /// Largest deviation from the ideal sine at the output times, one second away from each end.
    private func maximumError(_ output: [Double], frequency: Double, rate: Double) -> Double {
        let margin = Int(rate)
        var worst = 0.0
        for index in margin..<(output.count - margin) {
            worst = max(worst, abs(output[index] - sin(2 * Double.pi * frequency * Double(index) / rate)))
        }
        return worst
    }

    private func rms(_ values: ArraySlice<Double>) -> Double {
        (values.reduce(0) { $0 + $1 * $1 } / Double(values.count)).squareRoot()
    }

    func testDownsamplingKeepsASineBelowTheNewNyquist() {
        let output = Resampler(inputRate: 360, outputRate: 250).resample(sine(frequency: 10, rate: 360, seconds: 10))
        XCTAssertEqual(output.count, 2500)
        XCTAssertLessThan(maximumError(output, frequency: 10, rate: 250), 1e-3)
    }

    func testUpsamplingKeepsASine() {
        let output = Resampler(inputRate: 250, outputRate: 360).resample(sine(frequency: 17, rate: 250, seconds: 10))
        XCTAssertEqual(output.count, 3600 - 1)
        XCTAssertLessThan(maximumError(output, frequency: 17, rate: 360), 1e-3)
    }

    func testDownsamplingSuppressesASineAboveTheNewNyquist() {
        // 150 Hz fits under 360 Hz's Nyquist (180) but not under 250 Hz's (125): without the anti-aliasing
        // filter it would fold to 100 Hz at full amplitude.
        let output = Resampler(inputRate: 360, outputRate: 250).resample(sine(frequency: 150, rate: 360, seconds: 10))
        XCTAssertLessThan(rms(output[250..<(output.count - 250)]), 0.01)
    }

    func testResamplingBetweenRatesWithoutASmallRatio() {
        let rate = 360.0 * 1.000_123_7
        let output = Resampler(inputRate: 360, outputRate: rate).resample(sine(frequency: 5, rate: 360, seconds: 4))
        XCTAssertLessThan(maximumError(output, frequency: 5, rate: rate), 1e-3)
    }

    func testAConstantStaysConstantAndInvalidSamplesStayInvalid() {
        let flat = Resampler(inputRate: 360, outputRate: 128).resample([Double](repeating: 2.5, count: 720))
        XCTAssertTrue(flat.allSatisfy { abs($0 - 2.5) < 1e-9 })
        var signal = [Double](repeating: 1, count: 3600)
        signal[1800] = .nan
        let output = Resampler(inputRate: 360, outputRate: 250).resample(signal)
        XCTAssertTrue(output[1250].isNaN)
        XCTAssertFalse(output[100].isNaN)
        XCTAssertEqual(Resampler(inputRate: 360, outputRate: 250).resample([Double]()), [])
        XCTAssertEqual(Resampler(inputRate: 250, outputRate: 250).resample([1.0, 2.0]), [1.0, 2.0])
    }
}
