import ContentStore
import ECGSignal
import Foundation
import NeuralNet
import PipelineEngine

/// `ecg.train`: the beat dataset → a trained CNN checkpoint, kept at its best validation macro-F1.
///
/// Deps: the preprocess output directory (first dep, holding `beats.bin`). Outs: the best model's checkpoint
/// (first out), `metrics/train.json`, and the plots `loss.svg`, `accuracy.svg` and `training.csv` (the data behind
/// them), written into the directory of the first `.svg` out. The checkpoint is bit-identical for the same params
/// and thread count.
///
/// Every epoch also writes the whole training state (weights, Adam moments, RNG, history, best epoch) to
/// `.cache/resume/STAGE.ckpt`. It is scratch, not an output: the engine neither removes nor caches it, so an
/// interrupted training finds it and, with `resume: true` and the same params and data, finishes with the result
/// an uninterrupted one gives. A finished training removes it.
public struct TrainStage: BuiltinStage {
    public let name = "ecg.train"
    public let codeVersion = "2"  // 2: metrics/train.json holds no throughput
    public var declaredParams: [String] { TrainingConfig.declaredParams }

    public init() {}

    /// One epoch's figures.
    struct EpochRecord: Codable, Equatable {
        var epoch: Int
        var learningRate: Double
        var trainLoss: Double
        var trainAccuracy: Double
        var validationLoss: Double
        var validationAccuracy: Double
        var validationMacroF1: Double
        var beatsPerSecond: Double

        enum CodingKeys: String, CodingKey {
            case epoch
            case learningRate = "lr"
            case trainLoss = "train_loss"
            case trainAccuracy = "train_accuracy"
            case validationLoss = "val_loss"
            case validationAccuracy = "val_accuracy"
            case validationMacroF1 = "val_macro_f1"
            case beatsPerSecond = "beats_per_second"
        }
    }

    /// What a resumed training needs besides the model: the history and the best epoch's weights.
    struct LoopState: Codable {
        var configuration: String
        var history: [EpochRecord]
        var bestEpoch: Int
        var bestMacroF1: Double
        var bestParameters: [Float]
        var bestBuffers: [Float]
        var epochsWithoutImprovement: Int

        /// Adds the epoch to the history, and keeps `model`'s weights when its validation macro-F1 is the best so
        /// far (every epoch is the best without validation beats).
        mutating func record(_ record: EpochRecord, model: Model, validated: Bool) {
            history.append(record)
            if record.validationMacroF1 > bestMacroF1 || !validated {
                bestMacroF1 = record.validationMacroF1
                bestEpoch = record.epoch
                bestParameters = model.parameters
                bestBuffers = model.buffers
                epochsWithoutImprovement = 0
            } else {
                epochsWithoutImprovement += 1
            }
        }
    }

    public func run(_ context: StageContext) throws {
        let config = try TrainingConfig(StageParams(context))
        guard let datasetDirectory = context.deps.first, let bestPath = context.outputs.first else {
            throw StageFailure("ecg.train needs the preprocess output as its first dep and the model as its first out")
        }
        let lastPath = ".cache/resume/\(context.stageName).ckpt"
        let dataset = try BeatDatasetFile.read(
            context.url(datasetDirectory).appendingPathComponent(PreprocessStage.datasetFile))
        let beats = try TrainingBeats(dataset: dataset, config: config)
        context.log(
            "split \(config.split): \(beats.train.count) training, \(beats.validation.count) validation, "
                + "\(beats.test) test beats; architecture \(config.architectureName), features \(config.features.rawValue)"
                + (config.recorder.isActive ? "; recorder augmentation \(config.recorder.summary)" : "")
        )

        setThreadCount(config.effectiveThreads)
        var metadata = metadataFor(config, dataset: dataset, trainCount: beats.train.count)
        if case .ds1CrossValidation(let folds, let seed) = config.split {
            let result = try crossValidate(
                DatasetSplit.ds1Folds(count: folds, seed: seed, available: dataset.records.map(\.name)),
                dataset: dataset, config: config, context: context)
            for line in result.table().split(separator: "\n") { context.log(String(line)) }
            metadata.merge(result.metadata) { _, fold in fold }
            context.log("the kept model trains on every DS1 record")
        }
        var (model, state, firstEpoch) = try startOrResume(
            context, config: config, dataset: dataset, resumePath: lastPath)
        try runEpochs(
            &model, state: &state, from: firstEpoch, beats: beats, dataset: dataset, config: config, context: context,
            resume: (path: lastPath, metadata: metadata))
        try keepBestEpoch(&model, state: state, metadata: metadata, to: context.url(bestPath))
        let metricsPath = context.outputs.first { $0.hasSuffix("train.json") } ?? "metrics/train.json"
        try writeMetrics(state, validated: !beats.validation.isEmpty, to: context.url(metricsPath))
        try? FileManager.default.removeItem(at: context.url(lastPath))
        if let plotDirectory = context.outputs.first(where: { $0.hasSuffix(".svg") }) {
            try writePlots(
                state.history, validated: !beats.validation.isEmpty,
                directory: context.url((plotDirectory as NSString).deletingLastPathComponent))
        }
        context.log(
            "kept epoch \(state.bestEpoch) (validation macro-F1 \(String(format: "%.4f", state.bestMacroF1))) → \(bestPath)"
        )
    }

    /// Trains the epochs from `firstEpoch` on `beats`, keeping the best in `state`. With `resume`, each epoch's
    /// whole state goes to its path (the checkpoint carrying its metadata) and its figures to the run tracker;
    /// without (a cross-validation fold), its line goes to the log only, after `label`.
    private func runEpochs(
        _ model: inout Model, state: inout LoopState, from firstEpoch: Int, beats: TrainingBeats,
        dataset: BeatDataset, config: TrainingConfig, context: StageContext,
        resume: (path: String, metadata: [String: String])?, label: String = ""
    ) throws {
        let batch = BatchBuffers(
            dataset: dataset, featureCount: config.features.extraFeatures, capacity: config.batchSize)
        let recorder =
            config.recorder.isActive
            ? RecorderSimulator(
                config.recorder, length: dataset.windowLength, samplingRate: dataset.samplingRate,
                normalization: dataset.normalization) : nil
        for epoch in stride(from: firstEpoch, to: config.epochs, by: 1) {
            if let patience = config.patience, state.epochsWithoutImprovement >= patience {
                context.log(label + "early stop: no better validation macro-F1 for \(patience) epochs")
                break
            }
            let pass = try trainEpoch(
                &model, epoch: epoch, beats: beats, batch: batch, recorder: recorder, config: config,
                context: context)
            let record = try evaluateEpoch(
                model, epoch: epoch, pass: pass, dataset: dataset, validation: beats.validation, config: config)
            state.record(record, model: model, validated: !beats.validation.isEmpty)
            logEpoch(
                record, epochs: config.epochs, validated: !beats.validation.isEmpty, context: context,
                tracked: resume != nil, label: label)
            guard let resume else { continue }
            let loopState = try JSONEncoder().encode(state)
            try model.checkpoint(
                classNames: AAMIClass.allCases.map(\.rawValue), metadata: resume.metadata, epoch: epoch,
                trainingState: [UInt8](loopState)
            ).write(to: context.url(resume.path))
        }
    }

    /// `split: ds1-cv`: per fold, a model (the same seed and params) trained on the other folds' records, kept at
    /// its best validation epoch, then scored on the fold's beats, overall and per rhythm.
    private func crossValidate(
        _ folds: [[String]], dataset: BeatDataset, config: TrainingConfig, context: StageContext
    ) throws -> CrossValidationResult {
        var result = CrossValidationResult(folds: [])
        for (index, records) in folds.enumerated() {
            let (trainAll, test) = DatasetSplit.ds1Fold(records, of: dataset)
            guard !test.isEmpty else { throw StageFailure("ds1-cv fold \(index + 1) (\(records)) has no beats") }
            let beats = try TrainingBeats(dataset: dataset, trainAll: trainAll, test: test.count, config: config)
            var model = try newModel(config: config, dataset: dataset)
            var state = LoopState(
                configuration: "", history: [], bestEpoch: -1, bestMacroF1: -1, bestParameters: [], bestBuffers: [],
                epochsWithoutImprovement: 0)
            let label = "fold \(index + 1)/\(folds.count): "
            context.log(label + "test records \(records.joined(separator: " ")), \(test.count) beats")
            try runEpochs(
                &model, state: &state, from: 0, beats: beats, dataset: dataset, config: config, context: context,
                resume: nil, label: label)
            if !state.bestParameters.isEmpty {
                try model.setParameters(state.bestParameters)
                try model.setBuffers(state.bestBuffers)
            }
            let evaluation = try Evaluation.run(
                model, dataset: dataset, indices: test, features: config.features.extraFeatures)
            let rhythms = try RhythmReport(
                truth: test.map { Int(dataset.label[$0]) }, predicted: evaluation.predicted,
                rhythms: test.map { dataset.rhythmName(of: $0) })
            result.folds.append(.init(records: records, report: evaluation.report, rhythms: rhythms))
        }
        return result
    }

    /// The training, validation and test beats of the split, and the class weights over the training beats.
    struct TrainingBeats {
        var train: [Int]
        var validation: [Int]
        /// Test beats: left for ecg.evaluate, only counted here.
        var test: Int
        var classWeights: [Float]?

        init(dataset: BeatDataset, config: TrainingConfig) throws {
            let (trainAll, test) = config.split.assign(dataset)
            try self.init(dataset: dataset, trainAll: trainAll, test: test.count, config: config)
        }

        /// `trainAll` less the validation share held out of it.
        init(dataset: BeatDataset, trainAll: [Int], test: Int, config: TrainingConfig) throws {
            guard dataset.featureCount >= config.features.extraFeatures else {
                throw StageFailure(
                    "features \(config.features.rawValue) needs \(config.features.extraFeatures) per-beat features; "
                        + "the beat dataset holds \(dataset.featureCount) (written by an older preprocess: run it again)"
                )
            }
            (train, validation) = DatasetSplit.holdOut(
                trainAll, fraction: config.validationFraction, seed: config.seed &+ 1)
            guard !train.isEmpty else { throw StageFailure("split \(config.split) leaves no training beats") }
            self.test = test
            classWeights = config.classWeighting.weights(labels: dataset.label, indices: train)
        }
    }

    /// A new model (seeded), or the interrupted training of these same params and data when `resume` is on and
    /// `resumePath` holds one; with the loop state and the first epoch to run.
    private func startOrResume(
        _ context: StageContext, config: TrainingConfig, dataset: BeatDataset, resumePath: String
    ) throws -> (Model, LoopState, Int) {
        let model = try newModel(config: config, dataset: dataset)
        let fingerprint = configurationFingerprint(context, dataset: dataset)
        let state = LoopState(
            configuration: fingerprint, history: [], bestEpoch: -1, bestMacroF1: -1, bestParameters: [],
            bestBuffers: [], epochsWithoutImprovement: 0)
        try FileManager.default.createDirectory(
            at: context.url(resumePath).deletingLastPathComponent(), withIntermediateDirectories: true)
        guard config.resume, let resumed = resume(context.url(resumePath), fingerprint: fingerprint, context: context)
        else { return (model, state, 0) }
        context.log("resuming after epoch \(resumed.epoch + 1) of \(config.epochs) from \(resumePath)")
        return (resumed.model, resumed.state, resumed.epoch + 1)
    }

    /// A new model of the configured architecture, seeded.
    private func newModel(config: TrainingConfig, dataset: BeatDataset) throws -> Model {
        try Model(
            specs: config.layers, inputLength: dataset.windowLength, featureCount: config.features.extraFeatures,
            classCount: AAMIClass.allCases.count, seed: config.seed, optimizer: config.optimizer)
    }

    /// One pass over the training beats in a new shuffled order: the summed loss and correct count.
    private struct EpochPass {
        var beats: Int
        var lossSum: Double
        var correct: Int
        var seconds: Double
    }

    private func trainEpoch(
        _ model: inout Model, epoch: Int, beats: TrainingBeats, batch: BatchBuffers, recorder: RecorderSimulator?,
        config: TrainingConfig, context: StageContext
    ) throws -> EpochPass {
        var order = beats.train
        model.random.shuffle(&order)
        // Its own generator, seeded by the epoch: the model's draws (and so a training without it) stay as they
        // were, and a resumed epoch inverts the same beats.
        var inversions = SplitMix64(seed: config.seed ^ (0x1A7E_0000 &+ UInt64(epoch)))
        var recorderDraws = RandomGenerator(seed: config.seed ^ (0x5EC0_0000 &+ UInt64(epoch)))
        let started = ContinuousClock.now
        var pass = EpochPass(beats: order.count, lossSum: 0, correct: 0, seconds: 0)
        var lastProgress = ContinuousClock.now
        var position = 0
        while position < order.count {
            let count = min(config.batchSize, order.count - position)
            batch.gather(order[position..<(position + count)])
            if let recorder {
                batch.transformWindows(count) { window in
                    guard Double(recorderDraws.nextFloat()) < config.recorder.probability else { return }
                    recorder.apply(to: window, random: &recorderDraws)
                }
            }
            if config.invertProbability > 0 {
                batch.invert(count) { _ in
                    Double(inversions.next() >> 11) / Double(1 << 53) < config.invertProbability
                }
            }
            let result = try model.trainStep(
                windows: batch.windows(count), features: batch.features(count), labels: batch.labels(count),
                batch: count, epoch: epoch, classWeights: beats.classWeights)
            pass.lossSum += Double(result.loss) * Double(count)
            pass.correct += result.correct
            position += count
            if ContinuousClock.now - lastProgress > .milliseconds(200) {
                lastProgress = ContinuousClock.now
                context.progress(
                    progressLine(
                        epoch: epoch, epochs: config.epochs, done: position, total: order.count,
                        elapsed: seconds(ContinuousClock.now - started)))
            }
        }
        pass.seconds = seconds(ContinuousClock.now - started)
        return pass
    }

    /// The epoch's figures: the pass's loss and accuracy, the validation beats' loss, accuracy and macro-F1.
    private func evaluateEpoch(
        _ model: Model, epoch: Int, pass: EpochPass, dataset: BeatDataset, validation indices: [Int],
        config: TrainingConfig
    ) throws -> EpochRecord {
        let validation = try Evaluation.run(
            model, dataset: dataset, indices: indices, features: config.features.extraFeatures)
        return EpochRecord(
            epoch: epoch + 1, learningRate: config.optimizer.learningRate(epoch: epoch),
            trainLoss: pass.lossSum / Double(pass.beats), trainAccuracy: Double(pass.correct) / Double(pass.beats),
            validationLoss: validation.loss, validationAccuracy: validation.report.accuracy,
            validationMacroF1: validation.report.macroF1,
            beatsPerSecond: Double(pass.beats) / max(pass.seconds, 1e-9))
    }

    /// The epoch's metrics to the run tracker (when `tracked`) and its line to the log, after `label`.
    private func logEpoch(
        _ record: EpochRecord, epochs: Int, validated: Bool, context: StageContext, tracked: Bool, label: String
    ) {
        var values = [
            "train_loss": record.trainLoss, "train_accuracy": record.trainAccuracy, "lr": record.learningRate,
            "beats_per_second": record.beatsPerSecond,
        ]
        var line = String(
            format: "epoch %d/%d: loss %.4f acc %.4f", record.epoch, epochs, record.trainLoss, record.trainAccuracy)
        if validated {
            values["val_loss"] = record.validationLoss
            values["val_accuracy"] = record.validationAccuracy
            values["val_macro_f1"] = record.validationMacroF1
            line += String(
                format: " | val loss %.4f acc %.4f macro-F1 %.4f", record.validationLoss, record.validationAccuracy,
                record.validationMacroF1)
        }
        if tracked { context.logMetrics(values, step: record.epoch) }
        context.log(label + line + String(format: " | %.0f beats/s", record.beatsPerSecond))
    }

    /// The kept model: the best epoch's weights, with no optimizer state to carry.
    private func keepBestEpoch(_ model: inout Model, state: LoopState, metadata: [String: String], to url: URL) throws {
        if !state.bestParameters.isEmpty {
            try model.setParameters(state.bestParameters)
            try model.setBuffers(state.bestBuffers)
        }
        var bestMetadata = metadata
        bestMetadata["best_epoch"] = String(state.bestEpoch)
        try model.checkpoint(
            classNames: AAMIClass.allCases.map(\.rawValue), metadata: bestMetadata, epoch: max(0, state.bestEpoch - 1)
        ).write(to: url)
    }

    /// Identifies what the training depends on, so that `resume` never continues a different training.
    private func configurationFingerprint(_ context: StageContext, dataset: BeatDataset) -> String {
        let hasher = SHA256Hasher()
        let params = context.params.values.keys.sorted { ($0.file, $0.key) < ($1.file, $1.key) }
        for reference in params where reference.key != "resume" {
            hasher.update(
                Data("\(reference.file):\(reference.key)=\(context.params.values[reference]?.json ?? "")\n".utf8))
        }
        hasher.update(Data("beats \(dataset.count) window \(dataset.windowLength)\n".utf8))
        dataset.windows.withUnsafeBytes { hasher.update($0) }
        dataset.label.withUnsafeBytes { hasher.update($0) }
        return hasher.finish().hex
    }

    /// The interrupted training to continue, if `url` holds one of this exact configuration. A damaged file is
    /// reported and ignored: training starts over rather than fail.
    private func resume(_ url: URL, fingerprint: String, context: StageContext) -> (
        model: Model, state: LoopState, epoch: Int
    )? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do {
            let checkpoint = try Checkpoint.read(from: url)
            guard let state = try? JSONDecoder().decode(LoopState.self, from: Data(checkpoint.trainingState)),
                state.configuration == fingerprint
            else {
                context.log("not resuming: \(url.lastPathComponent) belongs to other params or data")
                return nil
            }
            return (try Model(checkpoint: checkpoint, file: url.path), state, checkpoint.epoch)
        } catch {
            context.log("not resuming: \(error)")
            return nil
        }
    }

    /// What inference and export need to feed the model exactly as training did.
    private func metadataFor(_ config: TrainingConfig, dataset: BeatDataset, trainCount: Int) -> [String: String] {
        var metadata = [
            "window": String(dataset.windowLength),
            "sampling_rate": String(dataset.samplingRate),
            "normalization": dataset.normalization.rawValue,
            "lead": dataset.records.first?.lead ?? "",
            "leads": dataset.records.map { "\($0.name)=\($0.lead)" }.joined(separator: " "),
            "features": config.features.rawValue,
            "feature_names": BeatDataset.featureNames.prefix(config.features.extraFeatures).joined(separator: " "),
            "architecture": config.architectureName,
            "train_beats": String(trainCount),
        ]
        for (key, value) in SplitMetadata.encode(config.split) { metadata[key] = value }
        return metadata
    }

    private func writeMetrics(_ state: LoopState, validated: Bool, to url: URL) throws {
        let last = state.history.last
        let best = state.history.first { $0.epoch == state.bestEpoch }
        var document: [String: Any] = [
            "epochs_run": state.history.count,
            "best_epoch": state.bestEpoch,
            // Throughput is a fact of the machine and its load, not of the model: it goes to the run store (each
            // epoch's metrics) and the log, never into this hashed output, so a rebuild reproduces it exactly.
            "epochs": try state.history.map { record -> Any in
                var fields = try JSONSerialization.jsonObject(with: JSONEncoder().encode(record)) as? [String: Any]
                fields?.removeValue(forKey: EpochRecord.CodingKeys.beatsPerSecond.rawValue)
                return fields ?? [:]
            },
        ]
        if let best, validated {
            document["val_macro_f1"] = best.validationMacroF1
            document["val_accuracy"] = best.validationAccuracy
            document["val_loss"] = best.validationLoss
        }
        if let last {
            document["train_loss"] = last.trainLoss
            document["train_accuracy"] = last.trainAccuracy
        }
        var data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        data.append(0x0A)
        try AtomicFile.write(data, to: url)
    }

    private func writePlots(_ history: [EpochRecord], validated: Bool, directory: URL) throws {
        let epochs = history.map { Double($0.epoch) }
        func series(_ name: String, _ values: [Double]) -> PlotSeries {
            PlotSeries(name: name, points: zip(epochs, values).map { PlotPoint(x: $0, y: $1) })
        }
        var loss = [series("train", history.map(\.trainLoss))]
        var accuracy = [series("train", history.map(\.trainAccuracy))]
        if validated {
            loss.append(series("validation", history.map(\.validationLoss)))
            accuracy.append(series("validation", history.map(\.validationAccuracy)))
            accuracy.append(series("validation macro-F1", history.map(\.validationMacroF1)))
        }
        try AtomicFile.write(
            Data(LineChart(title: "Loss per epoch", yLabel: "cross-entropy", series: loss).svg().utf8),
            to: directory.appendingPathComponent("loss.svg"))
        try AtomicFile.write(
            Data(LineChart(title: "Accuracy per epoch", yLabel: "accuracy", series: accuracy).svg().utf8),
            to: directory.appendingPathComponent("accuracy.svg"))
        try AtomicFile.write(
            Data(CSVTable(xName: "epoch", series: loss + accuracy).text().utf8),
            to: directory.appendingPathComponent("training.csv"))
    }

    private func progressLine(epoch: Int, epochs: Int, done: Int, total: Int, elapsed: Double) -> String {
        let fraction = Double(done) / Double(max(total, 1))
        let width = 30
        let filled = Int(fraction * Double(width))
        let rate = Double(done) / max(elapsed, 1e-9)
        let remaining = Double(total - done) / max(rate, 1e-9)
        return "epoch \(epoch + 1)/\(epochs) [" + String(repeating: "#", count: filled)
            + String(repeating: ".", count: width - filled) + "] "
            + String(format: "%3.0f%% %6.0f beats/s ETA %4.0fs", fraction * 100, rate, remaining)
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// Reusable batch buffers gathered from the dataset by beat index.
final class BatchBuffers {
    let dataset: BeatDataset
    let featureCount: Int
    private var windowBuffer: [Float]
    private var featureBuffer: [Float]
    private var labelBuffer: [Int]

    init(dataset: BeatDataset, featureCount: Int, capacity: Int) {
        self.dataset = dataset
        self.featureCount = featureCount
        windowBuffer = [Float](repeating: 0, count: capacity * dataset.windowLength)
        featureBuffer = [Float](repeating: 0, count: capacity * featureCount)
        labelBuffer = [Int](repeating: 0, count: capacity)
    }

    func gather<C: Collection>(_ indices: C) where C.Element == Int {
        let length = dataset.windowLength
        let stored = dataset.featureCount
        for (slot, beat) in indices.enumerated() {
            for offset in 0..<length { windowBuffer[slot * length + offset] = dataset.windows[beat * length + offset] }
            for offset in 0..<featureCount {
                featureBuffer[slot * featureCount + offset] = dataset.features[beat * stored + offset]
            }
            labelBuffer[slot] = Int(dataset.label[beat])
        }
    }

    /// Turns upside down the windows of the first `count` slots that `chosen` picks (in slot order): 1 − x for
    /// min-max windows, −x otherwise.
    func invert(_ count: Int, chosen: (Int) -> Bool) {
        let length = dataset.windowLength
        let minMax = dataset.normalization == .minMax
        for slot in 0..<count where chosen(slot) {
            for offset in (slot * length)..<((slot + 1) * length) {
                windowBuffer[offset] = minMax ? 1 - windowBuffer[offset] : -windowBuffer[offset]
            }
        }
    }

    /// Hands each of the first `count` slots' windows, in slot order, to `body` to change in place.
    func transformWindows(_ count: Int, _ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let length = dataset.windowLength
        windowBuffer.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for slot in 0..<count { body(UnsafeMutableBufferPointer(start: base + slot * length, count: length)) }
        }
    }

    func windows(_ count: Int) -> [Float] {
        count * dataset.windowLength == windowBuffer.count
            ? windowBuffer : Array(windowBuffer.prefix(count * dataset.windowLength))
    }
    func features(_ count: Int) -> [Float] {
        count * featureCount == featureBuffer.count ? featureBuffer : Array(featureBuffer.prefix(count * featureCount))
    }
    func labels(_ count: Int) -> [Int] { count == labelBuffer.count ? labelBuffer : Array(labelBuffer.prefix(count)) }
}

/// A model's predictions over some beats of a dataset.
struct Evaluation {
    var report: ClassificationReport
    var loss: Double
    var predicted: [Int]
    var probabilities: [Float]

    static func run(_ model: Model, dataset: BeatDataset, indices: [Int], features featureCount: Int) throws
        -> Evaluation
    {
        guard !indices.isEmpty else {
            return Evaluation(
                report: try ClassificationReport(truth: [Int](), predicted: [Int]()), loss: 0, predicted: [],
                probabilities: [])
        }
        let buffers = BatchBuffers(dataset: dataset, featureCount: featureCount, capacity: indices.count)
        buffers.gather(indices)
        let logits = try model.predict(
            windows: buffers.windows(indices.count), features: buffers.features(indices.count), count: indices.count,
            chunkSize: 1024)
        let classes = model.classCount
        var predicted = [Int](repeating: 0, count: indices.count)
        var probabilities = [Float](repeating: 0, count: indices.count)
        var loss = 0.0
        let truth = buffers.labels(indices.count)
        for beat in 0..<indices.count {
            let row = logits[(beat * classes)..<((beat + 1) * classes)]
            let top = row.max() ?? 0
            let total = row.reduce(0.0) { $0 + exp(Double($1 - top)) }
            var best = 0
            for index in 0..<classes where row[row.startIndex + index] > row[row.startIndex + best] { best = index }
            predicted[beat] = best
            probabilities[beat] = Float(1 / total)
            loss += log(total) - Double(row[row.startIndex + truth[beat]] - top)
        }
        return Evaluation(
            report: try ClassificationReport(truth: truth, predicted: predicted), loss: loss / Double(indices.count),
            predicted: predicted, probabilities: probabilities)
    }
}

/// The split a model was trained with, kept in its checkpoint so evaluation tests on the same beats.
enum SplitMetadata {
    static func encode(_ split: DatasetSplit) -> [String: String] {
        switch split {
        case .interPatient: return ["split": "inter-patient"]
        case .random(let fraction, let seed):
            return ["split": "random", "test_fraction": String(fraction), "split_seed": String(seed)]
        case .records(let train, let test):
            return [
                "split": "records", "train_records": train.joined(separator: " "),
                "test_records": test.joined(separator: " "),
            ]
        case .ds1CrossValidation(let folds, let seed):
            return ["split": "ds1-cv", "cv_folds": String(folds), "split_seed": String(seed)]
        }
    }

    static func decode(_ metadata: [String: String], file: String) throws -> DatasetSplit {
        switch metadata["split"] {
        case "inter-patient": return .interPatient
        case "random":
            guard let fraction = metadata["test_fraction"].flatMap(Double.init),
                let seed = metadata["split_seed"].flatMap(UInt64.init)
            else { break }
            return .random(testFraction: fraction, seed: seed)
        case "records":
            guard let train = metadata["train_records"], let test = metadata["test_records"] else { break }
            return .records(
                train: train.split(separator: " ").map(String.init), test: test.split(separator: " ").map(String.init))
        case "ds1-cv":
            guard let folds = metadata["cv_folds"].flatMap(Int.init),
                let seed = metadata["split_seed"].flatMap(UInt64.init)
            else { break }
            return .ds1CrossValidation(folds: folds, seed: seed)
        default: break
        }
        throw StageFailure("\(file): the checkpoint does not say which split it was trained on")
    }
}
