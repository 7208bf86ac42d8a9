import Foundation
import ONNX

/// libFuzzer entry: any bytes as an ONNX model file. Loading decodes the protobuf, validates the graph and makes a
/// trial plan (every kernel bound, its buffers sized); it must end in a typed error or a model, never a crash or an
/// allocation past the tensor limit.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    if let model = try? ONNXModel(data: Data(bytes: data, count: size)) {
        _ = (model.inputs, model.outputs, model.metadata)
    }
    return 0
}

/// With `PIPE_FUZZ_SEEDS=DIR` in the environment, writes the seed corpus (small models made with the project's own
/// builder, and the malformed ones of `ModelErrorTests`) into DIR and exits, before any fuzzing.
@_cdecl("LLVMFuzzerInitialize")
public func initializeONNXFuzzer(
    _ argc: UnsafeMutablePointer<CInt>?,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> CInt {
    guard let directory = ProcessInfo.processInfo.environment["PIPE_FUZZ_SEEDS"] else { return 0 }
    for (name, model) in ONNXSeeds.all() {
        try? model.write(to: URL(fileURLWithPath: directory).appendingPathComponent(name))
    }
    exit(0)
}

enum ONNXSeeds {
    static func all() -> [(String, Data)] {
        var seeds: [(String, Data)] = []
        if let cnn = try? smallCNN() { seeds.append(("cnn", cnn)) }
        if let add = try? addition() { seeds.append(("add", add)) }
        for (name, dims, raw) in [
            ("initializer-trillion", [Int64(1_000_000), 1_000_000], [UInt8](repeating: 0, count: 4)),
            ("initializer-no-data", [268_000_000], [0, 0, 0, 0]),
            ("initializer-negative", [-1, 4], []),
        ] as [(String, [Int64], [UInt8])] {
            if let model = try? crafted(dims: dims, rawData: raw) { seeds.append((name, model)) }
        }
        return seeds
    }

    /// The shipped architecture in miniature: Conv1d-Relu-MaxPool-Flatten-Gemm-Softmax over [N, 1, 8] beats.
    private static func smallCNN() throws -> Data {
        var builder = ONNXModelBuilder()
        try builder.addInput("beats", shape: ["N", 1, 8])
        try builder.addInitializer("w", dims: [2, 1, 3], floats: [0.1, -0.2, 0.3, 0.4, 0.5, -0.6])
        try builder.addInitializer("b", dims: [2], floats: [0, 0.1])
        try builder.addNode("Conv", inputs: ["beats", "w", "b"], outputs: ["c"], attributes: [.ints("pads", [1, 1])])
        try builder.addNode("Relu", inputs: ["c"], outputs: ["r"])
        try builder.addNode(
            "MaxPool", inputs: ["r"], outputs: ["p"], attributes: [.ints("kernel_shape", [2]), .ints("strides", [2])])
        try builder.addNode("Flatten", inputs: ["p"], outputs: ["f"])
        try builder.addInitializer("g", dims: [8, 3], floats: (0..<24).map { Float($0) / 24 })
        try builder.addInitializer("h", dims: [3], floats: [0, 0, 0])
        try builder.addNode("Gemm", inputs: ["f", "g", "h"], outputs: ["l"])
        try builder.addNode("Softmax", inputs: ["l"], outputs: ["y"], attributes: [.int("axis", 1)])
        builder.addOutput("y", shape: ["N", 3])
        builder.setMetadata("sampling_rate", "360")
        return builder.serialized()
    }

    private static func addition() throws -> Data {
        var builder = ONNXModelBuilder()
        try builder.addInput("x", shape: [2])
        try builder.addInitializer("k", dims: [2], floats: [1, 2])
        try builder.addNode("Add", inputs: ["x", "k"], outputs: ["y"])
        builder.addOutput("y", shape: [2])
        return builder.serialized()
    }

    private static func crafted(dims: [Int64], rawData: [UInt8]) throws -> Data {
        var builder = ONNXModelBuilder()
        try builder.addInput("x", shape: [2])
        try builder.addNode("Add", inputs: ["x", "w"], outputs: ["y"])
        builder.addOutput("y", shape: [2])
        var model = builder.model()
        var tensor = TensorProto()
        (tensor.name, tensor.dataType, tensor.dims, tensor.rawData) = ("w", 1, dims, rawData)
        model.graph?.initializer = [tensor]
        return model.serializedData()
    }
}

#if !FUZZING
/// Without libFuzzer (`swift build`), replays the files given as arguments (or writes the seeds, as above).
@main
enum ONNXFuzzerReplay {
    static func main() {
        _ = initializeONNXFuzzer(nil, nil)
        for path in CommandLine.arguments.dropFirst() {
            guard let bytes = FileManager.default.contents(atPath: path) else { continue }
            _ = bytes.withUnsafeBytes { fuzzONNX($0.bindMemory(to: UInt8.self).baseAddress, bytes.count) }
        }
    }
}
#endif
