import ECGSignal
import XCTest

final class BiquadFilterTests: XCTestCase {
    private func sine(_ frequency: Double, rate: Double = 360, seconds: Double = 10) -> [Double] {
        (0..<Int(rate * seconds)).map { sin(2 * Double.pi * frequency * Double($0) / rate) }
    }

    /// Peak amplitude away from the ends, where the filters have settled.
    private func amplitude(_ signal: [Double]) -> Double {
        signal[360..<(signal.count - 360)].map { abs($0) }.max() ?? 0
    }

    func testButterworthSectionsPassTheirBandAndStopTheRest() {
        let lowPass = BiquadFilter.butterworthLowPass(cutoff: 15, samplingRate: 360)
        var slow = sine(2)
        var fast = sine(60)
        lowPass.applyZeroPhase(&slow)
        lowPass.applyZeroPhase(&fast)
        XCTAssertEqual(amplitude(slow), 1, accuracy: 0.01)
        XCTAssertLessThan(amplitude(fast), 0.005)  // 4th order (two passes): (15/60)^4 ≈ 0.004

        let highPass = BiquadFilter.butterworthHighPass(cutoff: 5, samplingRate: 360)
        var offset = sine(20).map { $0 + 3 }
        highPass.applyZeroPhase(&offset)
        XCTAssertEqual(amplitude(offset), 1, accuracy: 0.02)  // the 3 mV offset is gone, the 20 Hz sine stays
    }

    func testAtTheCutOffAZeroPhasePassHalvesThePower() {
        var signal = sine(15)
        BiquadFilter.butterworthLowPass(cutoff: 15, samplingRate: 360).applyZeroPhase(&signal)
        XCTAssertEqual(amplitude(signal), 0.5, accuracy: 0.01)  // −3 dB twice
    }

    func testTheFusedCascadeEqualsTwoSeparatePasses() {
        let highPass = BiquadFilter.butterworthHighPass(cutoff: 5, samplingRate: 250)
        let lowPass = BiquadFilter.butterworthLowPass(cutoff: 15, samplingRate: 250)
        let input: [Double] = (0..<5000).map { index in
            let time = Double(index)
            let sawtooth = Double(index % 50) / 100
            return sin(time / 7) + 0.3 * sin(time / 1.3) + sawtooth
        }
        var separate = input
        highPass.applyZeroPhase(&separate)
        lowPass.applyZeroPhase(&separate)
        var fused = input
        BiquadFilter.applyZeroPhase(highPass, lowPass, to: &fused)
        // The filters are linear and time-invariant, so only the start-up transients at the ends may differ.
        for index in 1000..<4000 { XCTAssertEqual(fused[index], separate[index], accuracy: 1e-9) }
    }
}
