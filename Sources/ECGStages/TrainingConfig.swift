import ECGSignal
import Foundation
import NeuralNet
import PipelineEngine

/// The inputs a model sees besides its window.
public enum FeatureSet: String, Sendable, CaseIterable {
    /// The beat window only (the original project).
    case window
    /// The window plus the first 8 per-beat features (RR and morphology), concatenated before the dense layers.
    case windowRR = "window+rr"
    /// The window plus the first 12: the 8, then the RR variability around the beat.
    case windowRRRhythm = "window+rr+rhythm"
    /// The window plus all of `BeatDataset.featureNames`: the 12, then the atrial activity before the QRS.
    case windowRRRhythmP = "window+rr+rhythm+p"

    /// How many of `BeatDataset.featureNames` (a prefix) the model takes.
    public var extraFeatures: Int {
        switch self {
        case .window: return 0
        case .windowRR: return 8
        case .windowRRRhythm: return 12
        case .windowRRRhythmP: return BeatDataset.featureNames.count
        }
    }
}

/// How the loss weighs the classes.
public enum ClassWeighting: Equatable, Sendable {
    case none
    /// total / (classes × count) per class: rare classes weigh more (scikit-learn's "balanced").
    case inverseFrequency
    case explicit([Float])

    /// The weights for training labels, order N S V F Q; nil for none. A class absent from training gets 0.
    public func weights(labels: [UInt8], indices: [Int]) -> [Float]? {
        switch self {
        case .none: return nil
        case .explicit(let weights): return weights
        case .inverseFrequency:
            var counts = [Int](repeating: 0, count: AAMIClass.allCases.count)
            for index in indices { counts[Int(labels[index])] += 1 }
            let present = counts.filter { $0 > 0 }.count
            return counts.map { count in
                count == 0 ? 0 : Float(Double(indices.count) / (Double(present) * Double(count)))
            }
        }
    }
}

/// Everything `ecg.train` reads from `stages/train.yaml`, typed and checked when the file is read, before any
/// data is: the layers as `[LayerSpec]`, the optimizer with its learning-rate schedule, the split. An error names
/// the file, the line and the key (`stages/train.yaml:21: architectures.rr_morph[3]: layer 'conv1d' has unknown
/// option 'strid' (allowed: kernel, out, padding, stride)`).
public struct TrainingConfig: Sendable {
    public var architectureName: String
    /// The chosen architecture's layers, in order.
    public var layers: [LayerSpec]
    public var epochs: Int
    public var batchSize: Int
    /// Adam or AdamW, the base learning rate, weight decay, the schedule over the epochs and gradient clipping.
    public var optimizer: OptimizerConfig
    public var classWeighting: ClassWeighting
    public var seed: UInt64
    public var threads: Int
    public var split: DatasetSplit
    public var validationFraction: Double
    public var patience: Int?
    public var features: FeatureSet
    public var resume: Bool
    /// Share of the training beats whose window is turned upside down in each epoch (a lead of the other
    /// polarity). (A gain alone is no augmentation here: min-max and z-score windows and the shape features are
    /// the same at every amplitude; `recorder` scales the beat against wander and noise instead.)
    public var invertProbability: Double
    /// Other recorders' amplitude, wander, noise and bandwidth, applied to training windows each epoch.
    public var recorder: RecorderAugmentation

    static let declaredParams = [
        "architecture", "architectures", "epochs", "batch_size", "lr", "optimizer", "weight_decay", "schedule",
        "step_size", "gamma", "clip_norm", "class_weights", "seed", "threads", "split", "test_fraction",
        "split_seed", "train_records", "test_records", "cv_folds", "validation_fraction", "patience", "features",
        "resume", "augment_invert", "augment_recorder", "augment_scale", "augment_wander", "augment_noise",
        "augment_rates",
    ]

    init(_ stageParams: StageParams) throws {
        var params = stageParams
        params.namesLines = true
        architectureName = try params.string("architecture")
        layers = try Self.layers(of: architectureName, params)
        epochs = try params.int("epochs", in: 1...100_000)
        batchSize = try params.int("batch_size", in: 1...1 << 20)
        optimizer = try Self.optimizer(params, epochs: epochs)
        classWeighting = try Self.classWeighting(params)
        seed = UInt64(try params.int("seed", in: 0...Int.max))
        threads = try params.int("threads", in: 0...1024)
        split = try Self.split(params)
        validationFraction = try params.double("validation_fraction", in: 0...0.9)
        patience = params.isNull("patience") ? nil : try params.int("patience", in: 1...100_000)
        features = try params.choice("features", FeatureSet.self)
        resume = try params.bool("resume")
        invertProbability = params.isNull("augment_invert") ? 0 : try params.double("augment_invert", in: 0...1)
        recorder = try Self.recorder(params)
    }

    /// `augment_recorder` (the share of beats; null or missing: none), `augment_scale`, `augment_wander`,
    /// `augment_noise` and `augment_rates` (a list of rates in Hz, or null).
    private static func recorder(_ params: StageParams) throws -> RecorderAugmentation {
        var augmentation = RecorderAugmentation()
        func value(_ key: String, in range: ClosedRange<Double>) throws -> Double {
            params.isNull(key) ? 0 : try params.double(key, in: range)
        }
        augmentation.probability = try value("augment_recorder", in: 0...1)
        augmentation.amplitudeScale = try value("augment_scale", in: 0...0.9)
        augmentation.wander = try value("augment_wander", in: 0...10)
        augmentation.noise = try value("augment_noise", in: 0...10)
        if !params.isNull("augment_rates") {
            guard let texts = params.params.strings("augment_rates") else {
                throw params.failure("augment_rates", "a list of sampling rates in Hz, or null")
            }
            augmentation.rates = try texts.map { text in
                guard let rate = Double(text), ECGSamplingRate.isUsable(rate) else {
                    throw params.failure("augment_rates", "a list of sampling rates in \(ECGSamplingRate.rangeText)")
                }
                return rate
            }
        }
        return augmentation
    }

    /// The BLAS and worker thread count: `threads`, or every core when 0.
    public var effectiveThreads: Int { threads > 0 ? threads : ProcessInfo.processInfo.activeProcessorCount }

    /// `architectures.NAME`: each layer a name (`relu`) or a mapping with `type` and numeric options, parsed into
    /// its spec (unknown types and options, missing or invalid values refused here).
    private static func layers(of name: String, _ params: StageParams) throws -> [LayerSpec] {
        guard case .mapping(let architectures)? = params.params.node("architectures") else {
            throw params.failure("architectures", "a mapping from names to lists of layers")
        }
        guard let layerList = architectures[name], case .sequence(let layerNodes) = layerList else {
            let names = architectures.keys.compactMap(\.scalar?.string).sorted().joined(separator: ", ")
            throw StageFailure(
                "\(params.place("architecture")): architecture '\(name)' is not in 'architectures' (\(names))")
        }
        return try layerNodes.enumerated().map { position, node in
            let place = "\(params.place("architectures", node: node)): architectures.\(name)[\(position)]"
            let type: String
            var options: [String: Double] = [:]
            if let scalar = node.scalar?.string {
                type = scalar
            } else {
                guard case .mapping(let mapping) = node, let named = mapping["type"]?.scalar?.string else {
                    throw StageFailure(
                        "\(place): a layer is a name (relu) or a mapping with 'type' and numeric options")
                }
                type = named
                for (key, value) in mapping {
                    guard let key = key.scalar?.string, key != "type" else { continue }
                    guard let number = YAMLScalar.double(value) else {
                        throw StageFailure("\(place): option '\(key)' of \(type) must be a number")
                    }
                    options[key] = number
                }
            }
            do {
                return try LayerSpec.parse(type: type, options: options)
            } catch let error as ArchitectureError {
                throw StageFailure("\(place): \(error)")
            }
        }
    }

    /// `optimizer`, `lr`, `weight_decay`, `schedule` (with `step_size` and `gamma`) and `clip_norm`.
    private static func optimizer(_ params: StageParams, epochs: Int) throws -> OptimizerConfig {
        let learningRate = try params.double("lr", in: 1e-12...10)
        let kind: OptimizerConfig.Kind
        switch try params.string("optimizer") {
        case "adam": kind = .adam
        case "adamw": kind = .adamW
        default: throw params.failure("optimizer", "adam or adamw")
        }
        let weightDecay = try params.double("weight_decay", in: 0...10)
        let scheduleName = try params.string("schedule")
        guard ["constant", "step", "cosine"].contains(scheduleName) else {
            throw params.failure("schedule", "constant, step or cosine")
        }
        let stepSize = try params.int("step_size", in: 1...100_000)
        let gamma = try params.double("gamma", in: 0...1)
        let schedule: LearningRateSchedule
        switch scheduleName {
        case "step": schedule = .step(stepSize: stepSize, gamma: gamma)
        case "cosine": schedule = .cosine(totalEpochs: epochs)
        default: schedule = .constant
        }
        return OptimizerConfig(
            kind: kind, learningRate: learningRate, weightDecay: weightDecay, schedule: schedule,
            gradientClipNorm: try params.optionalDouble("clip_norm", in: 0...1e9))
    }

    /// `class_weights`: none, inverse-frequency, or five weights in the order N S V F Q.
    private static func classWeighting(_ params: StageParams) throws -> ClassWeighting {
        if let list = params.params.strings("class_weights") {
            let weights = list.compactMap(Float.init)
            guard weights.count == AAMIClass.allCases.count, weights.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
                throw params.failure("class_weights", "none, inverse-frequency or five weights (N S V F Q)")
            }
            return .explicit(weights)
        }
        switch params.params.string("class_weights") {
        case "none": return ClassWeighting.none
        case "inverse-frequency": return .inverseFrequency
        default: throw params.failure("class_weights", "none, inverse-frequency or five weights (N S V F Q)")
        }
    }

    /// `split`, with `test_fraction` and `split_seed` for random, `train_records` and `test_records` for records,
    /// `cv_folds` and `split_seed` for ds1-cv.
    private static func split(_ params: StageParams) throws -> DatasetSplit {
        switch try params.string("split") {
        case "inter-patient": return .interPatient
        case "random":
            return .random(
                testFraction: try params.double("test_fraction", in: 0.01...0.99),
                seed: UInt64(try params.int("split_seed", in: 0...Int.max)))
        case "records":
            guard let train = try params.optionalNames("train_records"),
                let test = try params.optionalNames("test_records")
            else { throw params.failure("train_records", "a list of records when split is 'records'") }
            return .records(train: train, test: test)
        case "ds1-cv":
            return .ds1CrossValidation(
                folds: try params.int("cv_folds", in: 2...DatasetSplit.ds1.count),
                seed: UInt64(try params.int("split_seed", in: 0...Int.max)))
        default: throw params.failure("split", "inter-patient, random, records or ds1-cv")
        }
    }
}
