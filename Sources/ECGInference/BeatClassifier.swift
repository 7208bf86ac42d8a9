import ContentStore
import ECGSignal
import ECGStages
import Foundation
import ONNX
import Parallel

/// Errors of loading a model for inference or of feeding it.
public enum BeatClassifierError: Error, Equatable, CustomStringConvertible {
    case unusableModel(path: String, reason: String)

    public var description: String {
        switch self {
        case .unusableModel(let path, let reason): return "\(path): \(reason)"
        }
    }
}

/// An ONNX beat classifier and the way its beats must be cut, read from the model's `metadata_props`.
///
/// `ecg.export` records the window, sampling rate, normalisation, lead and class names; a file from elsewhere
/// (PyTorch's exporter on the original model) carries none, and gets the original project's defaults: 187-sample
/// windows at 360 Hz, min-max normalised, MLII else channel 0, classes N S V F Q. Its first input takes the beats
/// [N, 1, window]; a second one, when present, the RR features [N, k].
public struct BeatClassifier: Sendable {
    public let path: String
    /// The decoded model, read once: each worker thread runs it through a session of its own.
    public let model: ONNXModel
    public let settings: BeatExtractionSettings
    public let classes: [AAMIClass]
    public let beatsInput: String
    public let featuresInput: String?
    public let featureCount: Int
    public let outputName: String
    public let metadata: [String: String]

    /// The model's own rate of samples, Hz: records at another rate are resampled to it.
    public var samplingRate: Double { settings.targetRate ?? 360 }

    public init(contentsOf url: URL) throws {
        // A FIFO would block the read and a device never ends: neither is a model file.
        if let kind = nonRegularFileKind(url.path) {
            throw ONNXError.unreadableFile(path: url.path, reason: "\(kind), not a regular file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ONNXError.unreadableFile(path: url.path, reason: "cannot be read (\(error.localizedDescription))")
        }
        try self.init(data: data, path: url.path)
    }

    public init(data: Data, path: String) throws {
        self.path = path
        do {
            model = try ONNXModel(data: data)
        } catch let error as ONNXError {
            throw BeatClassifierError.unusableModel(path: path, reason: "\(error)")
        }
        // ecg.export writes an empty value for what a checkpoint did not record: the same as absent.
        metadata = model.metadata.filter { !$0.value.isEmpty }
        func fail(_ reason: String) -> BeatClassifierError { .unusableModel(path: path, reason: reason) }

        guard let beats = model.inputs.first, model.inputs.count <= 2 else {
            throw fail("expected one or two inputs (beats, and optionally RR features), found \(model.inputs.count)")
        }
        guard let beatsShape = beats.shape, beatsShape.count == 3, case .fixed(let window) = beatsShape[2],
            window > 0
        else {
            throw fail("input '\(beats.name)' must be [N, 1, window] with a fixed window, found \(beats)")
        }
        beatsInput = beats.name
        if model.inputs.count == 2 {
            let features = model.inputs[1]
            guard let shape = features.shape, shape.count == 2, case .fixed(let k) = shape[1] else {
                throw fail("input '\(features.name)' must be [N, k] RR features, found \(features)")
            }
            // A model takes a prefix of the features the extraction computes (FeatureSet).
            guard k > 0, k <= BeatDataset.featureNames.count else {
                throw fail(
                    "input '\(features.name)' takes \(k) RR features; this pipe computes "
                        + "\(BeatDataset.featureNames.count) (\(BeatDataset.featureNames.joined(separator: ", ")))")
            }
            featuresInput = features.name
            featureCount = k
        } else {
            featuresInput = nil
            featureCount = 0
        }
        guard let output = model.outputs.first else { throw fail("the model has no output") }
        outputName = output.name

        let names = (metadata["class_names"] ?? "N S V F Q").split(separator: " ").map(String.init)
        var classes: [AAMIClass] = []
        for name in names {
            guard let beatClass = AAMIClass(rawValue: name) else {
                throw fail("class '\(name)' in metadata class_names is not an AAMI class (N S V F Q)")
            }
            classes.append(beatClass)
        }
        if let shape = output.shape, shape.count == 2, case .fixed(let outputs) = shape[1], outputs != classes.count {
            throw fail("output '\(output.name)' has \(outputs) classes but class_names names \(classes.count)")
        }
        self.classes = classes

        var settings = BeatExtractionSettings()
        settings.windowLength = window
        settings.peaks = .detected
        settings.labels = nil
        let rateText = metadata["sampling_rate"] ?? "360"
        guard let rate = Double(rateText), rate.isFinite, rate > 0 else {
            throw fail("metadata sampling_rate '\(rateText)' is not a rate in Hz")
        }
        // A model trained at 1 Hz calls nearly every beat arrhythmic; one at 1 MHz makes every record resampled
        // to it enormous.
        guard ECGSamplingRate.isUsable(rate) else {
            throw fail(
                "metadata sampling_rate \(rateText) Hz is outside \(ECGSamplingRate.rangeText), the rates of ECG")
        }
        settings.targetRate = rate
        let normalizationText = metadata["normalization"] ?? "minmax"
        guard let normalization = BeatWindowNormalization(rawValue: normalizationText) else {
            throw fail("metadata normalization '\(normalizationText)' is not minmax, zscore or none")
        }
        settings.normalization = normalization
        if let lead = metadata["lead"], !lead.isEmpty {
            settings.lead = .named(lead, fallbackToFirst: true)
        }
        self.settings = settings
    }

    /// A runtime of the model for one thread: a session with its own buffers over the shared graph and weights.
    public func makeRuntime() -> ONNXSession { model.makeSession() }

    /// Beats the runtime is given at once, at most: a tile's activations stay in the caches, where a whole
    /// batch of 1024 would stream every layer's output through memory (measured with rr_morph on one core:
    /// 200k beats/s in tiles of 64 against 142k at 1024).
    public static let tileBeats = 64

    /// Class probabilities (softmax of the logits), [count × classes.count]. Beats are gathered `batchSize` at a
    /// time; each gathered batch is cut into tiles of at most `tileBeats`, shared out between the `runtimes`,
    /// which run in parallel (one thread each: splitting a small model's kernels between threads costs more
    /// than it saves, while the beats of a batch are independent).
    public func probabilities(
        windows: [Float], features: [Float], count: Int, batchSize: Int, runtimes: [ONNXSession]
    ) throws -> [Float] {
        guard !runtimes.isEmpty else { return [] }
        let classCount = classes.count
        var result = [Float](repeating: 0, count: count * classCount)
        let batch = max(1, batchSize)
        let tile = min(batch, Self.tileBeats)
        try result.withUnsafeMutableBufferPointer { output in
            guard let base = output.baseAddress else { return }
            var start = 0
            while start < count {
                let size = min(batch, count - start)
                let tiles = (size + tile - 1) / tile
                // One lane runs inline; several run at once, each taking the next tile with its own runtime.
                _ = try parallelMap(count: tiles, workerStates: runtimes) { runtime, index in
                    let beat = start + index * tile
                    try classify(
                        windows, features, from: beat, count: min(tile, start + size - beat), runtime: runtime,
                        into: base)
                }
                start += size
            }
        }
        return result
    }

    /// Softmax probabilities of beats [from, from + count) into `output` (rows of `classes.count`).
    private func classify(
        _ windows: [Float], _ features: [Float], from start: Int, count size: Int, runtime: ONNXSession,
        into output: UnsafeMutablePointer<Float>
    ) throws {
        let window = settings.windowLength
        let classCount = classes.count
        var feeds = [
            beatsInput: Tensor(
                shape: [size, 1, window], floats: Array(windows[(start * window)..<((start + size) * window)]))
        ]
        if let featuresInput {
            feeds[featuresInput] = Tensor(
                shape: [size, featureCount],
                floats: Array(features[(start * featureCount)..<((start + size) * featureCount)]))
        }
        let outputs = try runtime.run(inputs: feeds)
        guard let logits = outputs[outputName]?.floats, logits.count == size * classCount else {
            throw BeatClassifierError.unusableModel(
                path: path, reason: "output '\(outputName)' is not [\(size), \(classCount)] float logits")
        }
        for beat in 0..<size {
            let row = output + (start + beat) * classCount
            var largest = -Float.infinity
            for offset in 0..<classCount { largest = max(largest, logits[beat * classCount + offset]) }
            var sum: Float = 0
            for offset in 0..<classCount {
                let exponential = Foundation.exp(logits[beat * classCount + offset] - largest)
                row[offset] = exponential
                sum += exponential
            }
            for offset in 0..<classCount { row[offset] /= sum }
        }
    }
}
