import ECGSignal
import Foundation
import WFDB

/// How one noise stress record was made: the measured amplitudes and the scale of each signal's noise.
public struct NoiseStressSummary: Equatable, Sendable {
    public struct Signal: Equatable, Sendable {
        /// Signal index in the clean record, and the noise signal added to it.
        public var index: Int
        public var noiseIndex: Int
        /// QRS peak-to-peak amplitude and noise RMS amplitude, physical units.
        public var qrsAmplitude: Double
        public var noiseAmplitude: Double
        /// The factor the noise was multiplied by.
        public var scale: Double
        /// Samples clipped to the output format's range.
        public var clippedSamples: Int
    }
    public var record: String
    public var snr: Double
    public var signals: [Signal]
    /// The noisy stretches, sample ranges.
    public var stretches: [Range<Int>]
}

/// Builds noise stress records (`nst`): a clean WFDB record plus scaled noise from a noise record, written as a
/// new WFDB record (format 16) with the clean record's reference annotations copied beside it.
public enum NoiseStressRecord {
    /// Beat symbols whose QRS amplitude sets the SNR: the normal beats (AAMI class N), as `sigamp` measures.
    static let normalBeatSymbols: Set<String> = ["N", "L", "R", "e", "j"]

    /// Writes `<outName>` into `directory` (signal i of `cleanPath` plus noise signal i mod the noise record's
    /// count, at `snr` dB), and `<outName>.<reference>` copied from the clean record.
    public static func make(
        cleanPath: String, noisePath: String, snr: Double, reference: String, directory: String, outName: String
    ) throws -> NoiseStressSummary {
        let clean = try WFDBRecord.open(cleanPath)
        let noise = try WFDBRecord.open(noisePath)
        let rate = clean.header.samplingFrequency
        // nst refuses rates more than 10 % apart (it would resample); pipe asks for the same rate.
        guard abs(noise.header.samplingFrequency - rate) <= 0.001 * rate,
            clean.signals.allSatisfy({ $0.samplesPerFrame == 1 }),
            noise.signals.allSatisfy({ $0.samplesPerFrame == 1 })
        else {
            throw QRSAnalysisError.noiseRecordMismatch(
                clean: clean.headerPath, noise: noise.headerPath,
                reason:
                    "sampling frequencies \(rate) and \(noise.header.samplingFrequency) Hz differ, or a signal has "
                    + "several samples per frame")
        }
        guard !noise.signals.isEmpty, !clean.signals.isEmpty else {
            throw QRSAnalysisError.noiseRecordMismatch(
                clean: clean.headerPath, noise: noise.headerPath, reason: "a record has no signals")
        }
        let annotations = try AnnotationFile.read(record: clean.location, annotator: reference)
        let normalBeats = annotations.filter { normalBeatSymbols.contains($0.symbol) }.map(\.sample)
        let cleanBlock = try clean.read()
        let noiseBlock = try noise.read()
        let stretches = NoiseStressTest.noisyStretches(count: clean.frameCount, samplingRate: rate)

        var signals: [NoiseStressSummary.Signal] = []
        var specs: [SignalSpec] = []
        var samples: [[Int32]] = []
        for (index, channel) in cleanBlock.channels.enumerated() {
            let noiseIndex = index % noiseBlock.channels.count
            let cleanSamples = channel.physical()
            let noiseSamples = noiseBlock.channels[noiseIndex].physical()
            guard
                let qrsAmplitude = NoiseStressTest.qrsAmplitude(
                    signal: cleanSamples, normalBeats: normalBeats, samplingRate: rate), qrsAmplitude > 0
            else {
                throw QRSAnalysisError.noQRSAmplitude(record: clean.headerPath, signal: index, annotator: reference)
            }
            guard let noiseAmplitude = NoiseStressTest.noiseAmplitude(noise: noiseSamples, samplingRate: rate),
                noiseAmplitude > 0
            else { throw QRSAnalysisError.silentNoise(record: noise.headerPath, signal: noiseIndex) }
            let scale = NoiseStressTest.noiseScale(
                snr: snr, qrsAmplitude: qrsAmplitude, noiseAmplitude: noiseAmplitude)
            let noisy = NoiseStressTest.addNoise(
                clean: cleanSamples, noise: noiseSamples, scale: scale, stretches: stretches)

            let spec = SignalSpec(
                fileName: outName + ".dat", format: .int16, gain: channel.spec.gain, baseline: 0,
                units: channel.spec.units, adcResolution: 16, description: channel.spec.description)
            let (digital, clipped) = digitize(noisy, gain: spec.gain, format: spec.format)
            specs.append(spec)
            samples.append(digital)
            signals.append(
                .init(
                    index: index, noiseIndex: noiseIndex, qrsAmplitude: qrsAmplitude, noiseAmplitude: noiseAmplitude,
                    scale: scale, clippedSamples: clipped))
        }
        var header = RecordHeader(
            name: outName, signals: specs, samplingFrequency: rate, sampleCount: clean.frameCount)
        header.comments = [
            "noise stress test: \(clean.location.name) + \(noise.location.name) at SNR \(formatSNR(snr)) dB, "
                + "noise from 5:00 in 2-minute bursts"
        ]
        let output = RecordLocation(directory: directory, name: outName)
        try RecordWriter.write(header, samples: samples, directory: directory)
        try AnnotationFile.write(annotations, record: output, annotator: reference)
        return NoiseStressSummary(record: outName, snr: snr, signals: signals, stretches: stretches)
    }

    /// Digital samples at `gain` (baseline 0), clipped to the format's range; NaN becomes the invalid value.
    static func digitize(_ physical: [Double], gain: Double, format: SignalFormat) -> ([Int32], clipped: Int) {
        let range = format.valueRange
        let invalid = format.invalidValue
        // The invalid value sits at the bottom of the range: valid samples stay above it.
        let lowest = Double(invalid.map { $0 + 1 } ?? range.lowerBound)
        let highest = Double(range.upperBound)
        var clipped = 0
        let digital = physical.map { value -> Int32 in
            guard !value.isNaN else { return invalid ?? range.lowerBound }
            let scaled = (value * gain).rounded()
            if scaled < lowest || scaled > highest { clipped += 1 }
            return Int32(min(highest, max(lowest, scaled)))
        }
        return (digital, clipped)
    }

    static func formatSNR(_ snr: Double) -> String {
        snr == snr.rounded() ? String(Int(snr)) : String(snr)
    }
}
