import ContentStore
import Foundation
import NeuralNet
import ONNX
import PipelineEngine

/// Writes a trained `Model` as an ONNX graph (opset 17): inputs `beats` [N, 1, window] and, when the model takes
/// RR features, `rr` [N, k]; output `logits` [N, classes]; the batch dimension is symbolic.
///
/// Each layer maps to one node (Dropout to none: inference is the identity); conv and linear weights keep
/// PyTorch's layouts, which are ONNX's (Conv W [out, in, k], Gemm with transB = 1).
public enum ONNXExport {
    public static func model(_ model: Model, metadata: [String: String]) throws -> ONNXModelBuilder {
        var builder = ONNXModelBuilder(graphName: "pipe_ecg", opsetVersion: 17)
        builder.producerName = "pipe"
        try builder.addInput("beats", shape: ["N", 1, .fixed(model.inputLength)])
        if model.featureCount > 0 { try builder.addInput("rr", shape: ["N", .fixed(model.featureCount)]) }
        let state = Dictionary(model.stateDict().map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        func weight(_ layer: LayerInfo, _ tensor: String) throws -> String {
            let key = "\(layer.index).\(tensor)"
            guard let named = state[key] else { throw StageFailure("export: layer \(layer.index) has no \(tensor)") }
            try builder.addInitializer(key, dims: named.info.shape, floats: named.values)
            return key
        }
        var current = "beats"
        for layer in model.layers {
            let output = "l\(layer.index)_\(layer.spec.typeName)"
            switch layer.spec {
            case .conv1d(_, let kernel, let stride, let padding):
                try builder.addNode(
                    "Conv", inputs: [current, try weight(layer, "weight"), try weight(layer, "bias")],
                    outputs: [output],
                    attributes: [
                        .ints("kernel_shape", [kernel]), .ints("strides", [stride]), .ints("pads", [padding, padding]),
                        .ints("dilations", [1]), .int("group", 1),
                    ])
            case .maxPool1d(let kernel, let stride):
                try builder.addNode(
                    "MaxPool", inputs: [current], outputs: [output],
                    attributes: [.ints("kernel_shape", [kernel]), .ints("strides", [stride])])
            case .avgPool1d(let kernel, let stride):
                try builder.addNode(
                    "AveragePool", inputs: [current], outputs: [output],
                    attributes: [.ints("kernel_shape", [kernel]), .ints("strides", [stride])])
            case .globalAvgPool:
                try builder.addNode("GlobalAveragePool", inputs: [current], outputs: [output + "_pooled"])
                try builder.addNode(
                    "Flatten", inputs: [output + "_pooled"], outputs: [output], attributes: [.int("axis", 1)])
            case .relu:
                try builder.addNode("Relu", inputs: [current], outputs: [output])
            case .flatten:
                try builder.addNode("Flatten", inputs: [current], outputs: [output], attributes: [.int("axis", 1)])
            case .batchNorm1d:
                try builder.addNode(
                    "BatchNormalization",
                    inputs: [
                        current, try weight(layer, "weight"), try weight(layer, "bias"),
                        try weight(layer, "running_mean"), try weight(layer, "running_var"),
                    ], outputs: [output], attributes: [.float("epsilon", LayerSpec.batchNormEpsilon)])
            case .concatFeatures:
                try builder.addNode(
                    "Concat", inputs: [current, "rr"], outputs: [output], attributes: [.int("axis", 1)])
            case .linear:
                try builder.addNode(
                    "Gemm", inputs: [current, try weight(layer, "weight"), try weight(layer, "bias")],
                    outputs: [output], attributes: [.int("transB", 1)])
            case .dropout:
                continue
            }
            current = output
        }
        try builder.addNode("Identity", inputs: [current], outputs: ["logits"])
        builder.addOutput("logits", shape: ["N", .fixed(model.classCount)])
        for key in metadata.keys.sorted() { builder.setMetadata(key, metadata[key] ?? "") }
        return builder
    }
}

/// `ecg.export`: the trained checkpoint (first dep) → `models/ecg_model.onnx` (first out).
///
/// metadata_props carry what an application needs to feed the model (class names, window, sampling rate,
/// normalisation, lead, features) and where it came from (pipe version, git commit, run id, checkpoint SHA-256).
public struct ExportStage: BuiltinStage {
    public let name = "ecg.export"
    public let codeVersion = "2"  // 2: no run facts (run id, commit) in the model file
    public let declaredParams: [String] = []

    public init() {}

    public func run(_ context: StageContext) throws {
        guard let checkpointPath = context.deps.first, let output = context.outputs.first else {
            throw StageFailure("ecg.export needs the checkpoint as its first dep and the .onnx file as its first out")
        }
        let checkpointURL = context.url(checkpointPath)
        let checkpoint = try Checkpoint.read(from: checkpointURL)
        let model = try Model(checkpoint: checkpoint, file: checkpointPath)
        let stored = checkpoint.metadata
        var metadata: [String: String] = [:]
        metadata["class_names"] = checkpoint.classNames.joined(separator: " ")
        metadata["window"] = String(model.inputLength)
        for key in ["sampling_rate", "normalization", "lead", "feature_names", "architecture", "split"] {
            metadata[key] = stored[key] ?? ""
        }
        metadata["features"] = stored["features"] ?? "window"
        metadata["checkpoint_sha256"] = try FileHashing.hash(path: checkpointURL.path).digest.hex
        let builder = try ONNXExport.model(model, metadata: metadata)
        try context.write(builder.serialized(), to: output)
        context.log(
            "\(output): opset 17, inputs beats [N, 1, \(model.inputLength)]"
                + (model.featureCount > 0 ? " and rr [N, \(model.featureCount)]" : "")
                + ", output logits [N, \(model.classCount)]")
    }
}
