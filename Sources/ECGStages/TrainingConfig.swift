import ECGSignal
import Foundation
import PipelineEngine

/// The inputs a model sees besides its window.
public enum FeatureSet: String, Sendable, CaseIterable {
    /// The beat window only (the original project).
    case window
    /// The window plus the RR features (`BeatDataset.featureNames`), concatenated before the dense layers.
    case windowRR = "window+rr"

    public var extraFeatures: Int { self == .window ? 0 : BeatDataset.featureNames.count }
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

/// Everything `ecg.train` reads from `stages/train.yaml`.
public struct TrainingConfig: Sendable {
    public var architectureName: String
    /// Each layer as its type and numeric options, in order.
    public var layers: [(type: String, options: [String: Double])]
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Double
    public var optimizer: String
    public var weightDecay: Double
    public var schedule: String
    public var stepSize: Int
    public var gamma: Double
    public var clipNorm: Double?
    public var classWeighting: ClassWeighting
    public var seed: UInt64
    public var threads: Int
    public var split: DatasetSplit
    public var validationFraction: Double
    public var patience: Int?
    public var features: FeatureSet
    public var resume: Bool

    static let declaredParams = [
        "architecture", "architectures", "epochs", "batch_size", "lr", "optimizer", "weight_decay", "schedule",
        "step_size", "gamma", "clip_norm", "class_weights", "seed", "threads", "split", "test_fraction",
        "split_seed", "train_records", "test_records", "validation_fraction", "patience", "features", "resume",
    ]

    init(_ params: StageParams) throws {
        architectureName = try params.string("architecture")
        guard case .mapping(let architectures)? = params.params.node("architectures") else {
            throw params.failure("architectures", "a mapping from names to lists of layers")
        }
        guard let layerList = architectures[architectureName], case .sequence(let layerNodes) = layerList else {
            let names = architectures.keys.compactMap(\.scalar?.string).sorted().joined(separator: ", ")
            throw StageFailure(
                "\(params.file): architecture '\(architectureName)' is not in 'architectures' (\(names))")
        }
        layers = []
        for (position, node) in layerNodes.enumerated() {
            let place = "\(params.file): architectures.\(architectureName)[\(position)]"
            if let type = node.scalar?.string {
                layers.append((type, [:]))
                continue
            }
            guard case .mapping(let mapping) = node, let type = mapping["type"]?.scalar?.string else {
                throw StageFailure("\(place): a layer is a name (relu) or a mapping with 'type' and numeric options")
            }
            var options: [String: Double] = [:]
            for (key, value) in mapping {
                guard let key = key.scalar?.string, key != "type" else { continue }
                guard let number = YAMLScalar.double(value) else {
                    throw StageFailure("\(place): option '\(key)' of \(type) must be a number")
                }
                options[key] = number
            }
            layers.append((type, options))
        }
        epochs = try params.int("epochs", in: 1...100_000)
        batchSize = try params.int("batch_size", in: 1...1 << 20)
        learningRate = try params.double("lr", in: 1e-12...10)
        optimizer = try params.string("optimizer")
        guard ["adam", "adamw"].contains(optimizer) else { throw params.failure("optimizer", "adam or adamw") }
        weightDecay = try params.double("weight_decay", in: 0...10)
        schedule = try params.string("schedule")
        guard ["constant", "step", "cosine"].contains(schedule) else {
            throw params.failure("schedule", "constant, step or cosine")
        }
        stepSize = try params.int("step_size", in: 1...100_000)
        gamma = try params.double("gamma", in: 0...1)
        clipNorm = try params.optionalDouble("clip_norm", in: 0...1e9)
        if let list = params.params.strings("class_weights") {
            let weights = list.compactMap(Float.init)
            guard weights.count == AAMIClass.allCases.count, weights.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
                throw params.failure("class_weights", "none, inverse-frequency or five weights (N S V F Q)")
            }
            classWeighting = .explicit(weights)
        } else {
            switch params.params.string("class_weights") {
            case "none": classWeighting = ClassWeighting.none
            case "inverse-frequency": classWeighting = .inverseFrequency
            default: throw params.failure("class_weights", "none, inverse-frequency or five weights (N S V F Q)")
            }
        }
        seed = UInt64(try params.int("seed", in: 0...Int.max))
        threads = try params.int("threads", in: 0...1024)
        switch try params.string("split") {
        case "inter-patient": split = .interPatient
        case "random":
            split = .random(
                testFraction: try params.double("test_fraction", in: 0.01...0.99),
                seed: UInt64(try params.int("split_seed", in: 0...Int.max)))
        case "records":
            guard let train = try params.optionalNames("train_records"),
                let test = try params.optionalNames("test_records")
            else { throw params.failure("train_records", "a list of records when split is 'records'") }
            split = .records(train: train, test: test)
        default: throw params.failure("split", "inter-patient, random or records")
        }
        validationFraction = try params.double("validation_fraction", in: 0...0.9)
        patience = params.isNull("patience") ? nil : try params.int("patience", in: 1...100_000)
        features = try params.choice("features", FeatureSet.self)
        resume = try params.bool("resume")
    }

    /// The BLAS and worker thread count: `threads`, or every core when 0.
    public var effectiveThreads: Int { threads > 0 ? threads : ProcessInfo.processInfo.activeProcessorCount }
}
