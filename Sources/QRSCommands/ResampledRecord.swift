import ECGSignal
import Foundation
import WFDB

/// Writes a record at another sampling rate, as a recorder of that rate would have given it: every signal through
/// pipe's resampler (`Resampler`: band-limited to the lower Nyquist frequency), written as format 16 with the
/// source's gains, and the reference annotations moved to the new rate beside it.
public enum ResampledRecord {
    /// Writes `<outName>` at `rate` Hz into `directory`, and `<outName>.<reference>` when the source has that
    /// annotation file. Returns the new record's frame count.
    @discardableResult
    public static func make(
        sourcePath: String, rate: Double, reference: String, directory: String, outName: String
    ) throws -> Int {
        let source = try WFDBRecord.open(sourcePath)
        let sourceRate = source.header.samplingFrequency
        for candidate in [sourceRate, rate] where !ECGSamplingRate.isUsable(candidate) {
            throw QRSAnalysisError.unusableSamplingRate(header: source.headerPath, rate: candidate)
        }
        guard source.signals.allSatisfy({ $0.samplesPerFrame == 1 }), !source.signals.isEmpty else {
            throw WFDBError.unrepresentable(
                file: source.headerPath, reason: "resampling needs one or more signals of one sample per frame")
        }
        let resampler = Resampler(inputRate: sourceRate, outputRate: rate)
        let block = try source.read()
        var specs: [SignalSpec] = []
        var samples: [[Int32]] = []
        for channel in block.channels {
            let spec = SignalSpec(
                fileName: outName + ".dat", format: .int16, gain: channel.spec.gain, baseline: 0,
                units: channel.spec.units, adcResolution: 16, description: channel.spec.description)
            specs.append(spec)
            samples.append(
                NoiseStressRecord.digitize(
                    resampler.resample(channel.physical()), gain: spec.gain, format: spec.format
                ).0)
        }
        let frames = samples.first?.count ?? 0
        var header = RecordHeader(name: outName, signals: specs, samplingFrequency: rate, sampleCount: frames)
        header.comments = ["\(source.location.name) resampled from \(sourceRate) Hz to \(rate) Hz by pipe"]
        try RecordWriter.write(header, samples: samples, directory: directory)
        guard FileManager.default.fileExists(atPath: source.location.path(for: source.location.name + "." + reference))
        else { return frames }
        let moved = try AnnotationFile.read(record: source.location, annotator: reference).map { annotation in
            var copy = annotation
            copy.sample = min(max(0, frames - 1), Int((Double(annotation.sample) * rate / sourceRate).rounded()))
            return copy
        }
        try AnnotationFile.write(
            moved, record: RecordLocation(directory: directory, name: outName), annotator: reference)
        return frames
    }
}
