/// One layer of a model, as data. A model is an ordered `[LayerSpec]`; input sizes (conv in-channels, linear
/// in-features) are never written down but inferred from the input shape (see `ArchitecturePlan`).
///
/// Each case matches one PyTorch module, which is what the ONNX exporter and the reference script rely on:
///
/// | case | PyTorch | parse type and options |
/// | --- | --- | --- |
/// | `conv1d` | `nn.Conv1d(in, out, kernel, stride, padding)` | `conv1d`: out, kernel, stride = 1, padding = 0 |
/// | `maxPool1d` | `nn.MaxPool1d(kernel, stride)` | `maxpool`: kernel, stride = kernel |
/// | `avgPool1d` | `nn.AvgPool1d(kernel, stride)` | `avgpool`: kernel, stride = kernel |
/// | `globalAvgPool` | `nn.AdaptiveAvgPool1d(1)` then `nn.Flatten()` | `global_avgpool` |
/// | `relu` | `nn.ReLU()` | `relu` |
/// | `linear` | `nn.Linear(in, out)` | `linear`: out |
/// | `dropout` | `nn.Dropout(p)` | `dropout`: p = 0.5 |
/// | `flatten` | `nn.Flatten()` | `flatten` |
/// | `batchNorm1d` | `nn.BatchNorm1d(channels)` (eps 1e-5, momentum 0.1) | `batchnorm` |
/// | `concatFeatures` | `torch.cat([x, features], dim=1)` | `concat_features` |
public enum LayerSpec: Codable, Equatable, Sendable {
    case conv1d(outChannels: Int, kernel: Int, stride: Int, padding: Int)
    case maxPool1d(kernel: Int, stride: Int)
    case avgPool1d(kernel: Int, stride: Int)
    case globalAvgPool
    case relu
    case linear(outFeatures: Int)
    case dropout(probability: Double)
    case flatten
    case batchNorm1d
    case concatFeatures

    /// BatchNorm1d's fixed epsilon (PyTorch default).
    public static let batchNormEpsilon: Float = 1e-5
    /// BatchNorm1d's fixed running-statistics momentum (PyTorch default).
    public static let batchNormMomentum: Float = 0.1

    /// The type names `parse(type:options:)` accepts.
    public static let typeNames = [
        "conv1d", "maxpool", "avgpool", "global_avgpool", "relu", "linear", "dropout", "flatten", "batchnorm",
        "concat_features",
    ]

    /// The type name this spec parses from.
    public var typeName: String {
        switch self {
        case .conv1d: return "conv1d"
        case .maxPool1d: return "maxpool"
        case .avgPool1d: return "avgpool"
        case .globalAvgPool: return "global_avgpool"
        case .relu: return "relu"
        case .linear: return "linear"
        case .dropout: return "dropout"
        case .flatten: return "flatten"
        case .batchNorm1d: return "batchnorm"
        case .concatFeatures: return "concat_features"
        }
    }

    /// The options that `parse(type: typeName, options:)` turns back into this spec (defaults written out).
    public var options: [String: Double] {
        switch self {
        case .conv1d(let outChannels, let kernel, let stride, let padding):
            return [
                "out": Double(outChannels), "kernel": Double(kernel), "stride": Double(stride),
                "padding": Double(padding),
            ]
        case .maxPool1d(let kernel, let stride), .avgPool1d(let kernel, let stride):
            return ["kernel": Double(kernel), "stride": Double(stride)]
        case .linear(let outFeatures):
            return ["out": Double(outFeatures)]
        case .dropout(let probability):
            return ["p": probability]
        case .globalAvgPool, .relu, .flatten, .batchNorm1d, .concatFeatures:
            return [:]
        }
    }

    /// Builds a spec from a type name and numeric options, as written in `stages/train.yaml`.
    /// Throws `ArchitectureError` for an unknown type, an unknown, missing or invalid option.
    public static func parse(type: String, options: [String: Double]) throws -> LayerSpec {
        var reader = OptionReader(layer: type, options: options)
        let spec: LayerSpec
        switch type {
        case "conv1d":
            spec = .conv1d(
                outChannels: try reader.integer("out", minimum: 1),
                kernel: try reader.integer("kernel", minimum: 1),
                stride: try reader.integer("stride", minimum: 1, default: 1),
                padding: try reader.integer("padding", minimum: 0, default: 0)
            )
        case "maxpool", "avgpool":
            let kernel = try reader.integer("kernel", minimum: 1)
            let stride = try reader.integer("stride", minimum: 1, default: kernel)
            spec =
                type == "maxpool"
                ? .maxPool1d(kernel: kernel, stride: stride) : .avgPool1d(kernel: kernel, stride: stride)
        case "linear":
            spec = .linear(outFeatures: try reader.integer("out", minimum: 1))
        case "dropout":
            spec = .dropout(probability: try reader.probability("p", default: 0.5))
        case "global_avgpool":
            spec = .globalAvgPool
        case "relu":
            spec = .relu
        case "flatten":
            spec = .flatten
        case "batchnorm":
            spec = .batchNorm1d
        case "concat_features":
            spec = .concatFeatures
        default:
            throw ArchitectureError.unknownLayerType(type, known: typeNames)
        }
        try reader.rejectUnused()
        return spec
    }
}

extension LayerSpec: CustomStringConvertible {
    /// `conv1d(out=32, kernel=5, stride=1, padding=2)`, `relu`, …
    public var description: String {
        let options = self.options
        guard !options.isEmpty else { return typeName }
        let text = options.keys.sorted().map { key -> String in
            let value = options[key] ?? 0
            let shown = value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
            return "\(key)=\(shown)"
        }
        return "\(typeName)(\(text.joined(separator: ", ")))"
    }
}

/// Reads a layer's options once each, so leftovers can be reported as unknown.
private struct OptionReader {
    let layer: String
    let options: [String: Double]
    var used: Set<String> = []

    init(layer: String, options: [String: Double]) {
        self.layer = layer
        self.options = options
    }

    mutating func integer(_ name: String, minimum: Int, default fallback: Int? = nil) throws -> Int {
        used.insert(name)
        guard let value = options[name] else {
            if let fallback { return fallback }
            throw ArchitectureError.missingOption(layer: layer, option: name)
        }
        guard value.isFinite, value == value.rounded(), value >= Double(minimum), value <= 1_000_000_000 else {
            throw ArchitectureError.invalidOption(
                layer: layer, option: name, value: value, reason: "expected an integer >= \(minimum)")
        }
        return Int(value)
    }

    mutating func probability(_ name: String, default fallback: Double) throws -> Double {
        used.insert(name)
        guard let value = options[name] else { return fallback }
        guard value.isFinite, value >= 0, value < 1 else {
            throw ArchitectureError.invalidOption(
                layer: layer, option: name, value: value, reason: "expected a probability in [0, 1)")
        }
        return value
    }

    func rejectUnused() throws {
        let unknown = options.keys.filter { !used.contains($0) }.sorted()
        if let first = unknown.first {
            throw ArchitectureError.unknownOption(layer: layer, option: first, allowed: used.sorted())
        }
    }
}
