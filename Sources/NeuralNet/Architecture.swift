/// The shape of one sample's activations between two layers (the batch dimension is left out).
/// Memory layout is PyTorch's: a batch of sequences is [B, channels, length], a batch of features [B, count].
public enum ActivationShape: Equatable, Sendable, CustomStringConvertible {
    case sequence(channels: Int, length: Int)
    case features(Int)

    /// Floats per sample.
    public var count: Int {
        switch self {
        case .sequence(let channels, let length): return channels * length
        case .features(let count): return count
        }
    }

    /// `[32, 187]` for a sequence, `[2944]` for features.
    public var description: String {
        switch self {
        case .sequence(let channels, let length): return "[\(channels), \(length)]"
        case .features(let count): return "[\(count)]"
        }
    }
}

/// One named tensor inside `Model.parameters` (trainable) or `Model.buffers` (BatchNorm running statistics).
public struct TensorInfo: Equatable, Sendable {
    /// PyTorch's attribute name: `weight`, `bias`, `running_mean`, `running_var`.
    public let name: String
    /// PyTorch's shape: conv weight [out, in, kernel], linear weight [out, in], biases and BatchNorm tensors [C].
    public let shape: [Int]
    /// First element's index in the flat buffer; the tensor is `count` contiguous floats, row-major.
    public let offset: Int
    /// Number of floats (the product of `shape`).
    public var count: Int { shape.reduce(1, *) }
}

/// One layer of a planned model: its spec, the shapes around it and where its tensors live.
public struct LayerInfo: Equatable, Sendable {
    /// Position in the spec list; also the module index of the PyTorch `nn.Sequential` equivalent, so a tensor's
    /// `state_dict` key is `"\(index).\(tensor.name)"`.
    public let index: Int
    public let spec: LayerSpec
    /// Per-sample shape going in and coming out.
    public let input: ActivationShape
    public let output: ActivationShape
    /// Trainable tensors in `Model.parameters` (weight before bias, PyTorch's registration order).
    public let parameters: [TensorInfo]
    /// Non-trainable tensors in `Model.buffers` (running_mean before running_var).
    public let buffers: [TensorInfo]
}

/// Why an architecture cannot be built. Messages name the layer (by index and spec) and what does not fit.
public enum ArchitectureError: Error, Equatable, CustomStringConvertible {
    case unknownLayerType(String, known: [String])
    case missingOption(layer: String, option: String)
    case invalidOption(layer: String, option: String, value: Double, reason: String)
    case unknownOption(layer: String, option: String, allowed: [String])
    case invalidDimensions(String)
    case shapeMismatch(index: Int, layer: String, reason: String)

    public var description: String {
        switch self {
        case .unknownLayerType(let type, let known):
            return "unknown layer type '\(type)' (known: \(known.joined(separator: ", ")))"
        case .missingOption(let layer, let option):
            return "layer '\(layer)' needs option '\(option)'"
        case .invalidOption(let layer, let option, let value, let reason):
            return "layer '\(layer)' option '\(option)' = \(value): \(reason)"
        case .unknownOption(let layer, let option, let allowed):
            let list = allowed.isEmpty ? "none" : allowed.joined(separator: ", ")
            return "layer '\(layer)' has unknown option '\(option)' (allowed: \(list))"
        case .invalidDimensions(let reason):
            return "invalid model dimensions: \(reason)"
        case .shapeMismatch(let index, let layer, let reason):
            return "layer \(index) (\(layer)): \(reason)"
        }
    }
}

/// Named architectures and the shape inference that turns a spec list into a planned model.
public enum Architectures {
    /// The original project's model (DESIGN.md, "Model (original)"); 2944 = 64 channels × 46 samples for 187-sample
    /// windows: Conv1d(1→32,k5,p2)-ReLU-MaxPool2-Conv1d(32→64,k5,p2)-ReLU-MaxPool2-Flatten-Linear(→128)-ReLU-
    /// Dropout(0.2)-Linear(→classes).
    public static func original(classCount: Int = 5) -> [LayerSpec] {
        [
            .conv1d(outChannels: 32, kernel: 5, stride: 1, padding: 2), .relu, .maxPool1d(kernel: 2, stride: 2),
            .conv1d(outChannels: 64, kernel: 5, stride: 1, padding: 2), .relu, .maxPool1d(kernel: 2, stride: 2),
            .flatten, .linear(outFeatures: 128), .relu, .dropout(probability: 0.2), .linear(outFeatures: classCount),
        ]
    }

    /// `original()` with five classes (N, S, V, F, Q).
    public static let original: [LayerSpec] = original(classCount: 5)

    /// Infers every layer's shapes and tensor offsets for one-channel windows of `inputLength` samples, `featureCount`
    /// extra features per sample (appended by `concat_features`) and `classCount` output logits.
    /// Throws when a layer does not fit its input or the last layer does not produce `classCount` features.
    public static func plan(
        _ specs: [LayerSpec], inputLength: Int, featureCount: Int, classCount: Int
    ) throws -> [LayerInfo] {
        try checkDimensions(specs, inputLength: inputLength, featureCount: featureCount, classCount: classCount)
        var shape = ActivationShape.sequence(channels: 1, length: inputLength)
        var parameterOffset = 0
        var bufferOffset = 0
        var layers: [LayerInfo] = []
        for (index, spec) in specs.enumerated() {
            let shapes = try layerShapes(spec, index: index, input: shape, featureCount: featureCount)
            layers.append(
                LayerInfo(
                    index: index, spec: spec, input: shape, output: shapes.output,
                    parameters: place(shapes.parameters, at: &parameterOffset),
                    buffers: place(shapes.buffers, at: &bufferOffset)))
            shape = shapes.output
        }
        guard shape == .features(classCount) else {
            throw ArchitectureError.shapeMismatch(
                index: specs.count - 1, layer: specs[specs.count - 1].description,
                reason: "the model must end with \(classCount) class logits [\(classCount)], got \(shape)")
        }
        return layers
    }

    /// The sizes must be usable and the RR features, when there are any, appended by exactly one layer.
    private static func checkDimensions(
        _ specs: [LayerSpec], inputLength: Int, featureCount: Int, classCount: Int
    ) throws {
        guard inputLength > 0 else {
            throw ArchitectureError.invalidDimensions("input length \(inputLength) must be > 0")
        }
        guard featureCount >= 0 else {
            throw ArchitectureError.invalidDimensions("feature count \(featureCount) must be >= 0")
        }
        guard classCount >= 2 else {
            throw ArchitectureError.invalidDimensions("class count \(classCount) must be >= 2")
        }
        guard !specs.isEmpty else { throw ArchitectureError.invalidDimensions("the architecture has no layers") }
        let concatCount = specs.filter { $0 == .concatFeatures }.count
        if featureCount > 0 && concatCount == 0 {
            throw ArchitectureError.invalidDimensions(
                "\(featureCount) extra features per sample but no concat_features layer to use them")
        }
        if concatCount > 1 {
            throw ArchitectureError.invalidDimensions("concat_features appears \(concatCount) times; at most once")
        }
    }

    /// What one layer makes of its input: its output shape and the shapes of its parameters and buffers.
    private struct LayerShapes {
        var output: ActivationShape
        var parameters: [(String, [Int])] = []
        var buffers: [(String, [Int])] = []
    }

    /// Layer `index`'s shapes given its input, or why the input does not fit it.
    private static func layerShapes(_ spec: LayerSpec, index: Int, input shape: ActivationShape, featureCount: Int)
        throws -> LayerShapes
    {
        func fail(_ reason: String) -> ArchitectureError {
            .shapeMismatch(index: index, layer: spec.description, reason: reason)
        }
        let shapes: LayerShapes
        switch spec {
        case .conv1d(let outChannels, let kernel, let stride, let padding):
            guard case .sequence(let channels, let length) = shape else {
                throw fail("needs a [channels, length] input, got features \(shape)")
            }
            guard length + 2 * padding >= kernel else {
                throw fail("input length \(length) + 2×padding \(padding) is shorter than kernel \(kernel)")
            }
            shapes = LayerShapes(
                output: .sequence(channels: outChannels, length: (length + 2 * padding - kernel) / stride + 1),
                parameters: [("weight", [outChannels, channels, kernel]), ("bias", [outChannels])])
        case .maxPool1d(let kernel, let stride), .avgPool1d(let kernel, let stride):
            guard case .sequence(let channels, let length) = shape else {
                throw fail("needs a [channels, length] input, got features \(shape)")
            }
            guard length >= kernel else { throw fail("input length \(length) is shorter than kernel \(kernel)") }
            shapes = LayerShapes(output: .sequence(channels: channels, length: (length - kernel) / stride + 1))
        case .globalAvgPool:
            guard case .sequence(let channels, _) = shape else {
                throw fail("needs a [channels, length] input, got features \(shape)")
            }
            shapes = LayerShapes(output: .features(channels))
        case .flatten:
            shapes = LayerShapes(output: .features(shape.count))
        case .linear(let outFeatures):
            guard case .features(let inFeatures) = shape else {
                throw fail("needs flattened features, got \(shape); add a flatten layer before it")
            }
            shapes = LayerShapes(
                output: .features(outFeatures),
                parameters: [("weight", [outFeatures, inFeatures]), ("bias", [outFeatures])])
        case .concatFeatures:
            guard case .features(let inFeatures) = shape else {
                throw fail("needs flattened features, got \(shape); add a flatten layer before it")
            }
            guard featureCount > 0 else { throw fail("there are no extra features to append (feature count 0)") }
            shapes = LayerShapes(output: .features(inFeatures + featureCount))
        case .batchNorm1d:
            let channels: Int
            switch shape {
            case .sequence(let c, _): channels = c
            case .features(let c): channels = c
            }
            shapes = LayerShapes(
                output: shape, parameters: [("weight", [channels]), ("bias", [channels])],
                buffers: [("running_mean", [channels]), ("running_var", [channels])])
        case .relu, .dropout:
            shapes = LayerShapes(output: shape)
        }
        guard shapes.output.count > 0 else { throw fail("produces an empty output \(shapes.output)") }
        return shapes
    }

    /// Tensors laid out one after another from `offset`, which moves past them.
    private static func place(_ shapes: [(String, [Int])], at offset: inout Int) -> [TensorInfo] {
        shapes.map { name, shape in
            let tensor = TensorInfo(name: name, shape: shape, offset: offset)
            offset += tensor.count
            return tensor
        }
    }
}
