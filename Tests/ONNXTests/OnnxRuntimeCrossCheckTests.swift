import Foundation
import XCTest

@testable import ONNX

/// A model made with ONNXModelBuilder must pass onnx.checker and give onnxruntime's logits. Runs only where
/// Python with `onnx` and `onnxruntime` is available (`PIPE_PYTHON`, else `python3`).
final class OnnxRuntimeCrossCheckTests: XCTestCase {
    private static let scriptsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts")

    /// Runs `python arguments…`; returns the exit status and the combined output.
    private func runPython(_ python: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    private func pythonWithOnnxRuntime() throws -> String {
        let python = ProcessInfo.processInfo.environment["PIPE_PYTHON"] ?? "python3"
        let (status, output) = try runPython(python, ["-c", "import onnx, onnxruntime, numpy"])
        guard status == 0 else {
            throw XCTSkip(
                "needs Python with onnx, onnxruntime and numpy (set PIPE_PYTHON); \(python) said: "
                    + output.split(separator: "\n").suffix(1).joined())
        }
        return python
    }

    /// The original CNN plus a BatchNormalization after the first convolution and the RR features concatenated
    /// before the classifier, with seeded uniform(±1/√fan_in) weights like PyTorch's default initialisation.
    private func makeModel(rrFeatures: Int) throws -> Data {
        var generator = SeededGenerator(seed: 2024)
        func weights(_ count: Int, fanIn: Int) -> [Float] {
            let bound = 1 / Float(fanIn).squareRoot()
            return generator.floats(count, in: -bound...bound)
        }
        var builder = ONNXModelBuilder(graphName: "beat_cnn_rr")
        try builder.addInput("beats", shape: ["N", 1, 187])
        try builder.addInput("rr", shape: ["N", .fixed(rrFeatures)])
        try builder.addInitializer("conv1.w", dims: [32, 1, 5], floats: weights(160, fanIn: 5))
        try builder.addInitializer("conv1.b", dims: [32], floats: weights(32, fanIn: 5))
        try builder.addInitializer("bn.scale", dims: [32], floats: generator.floats(32, in: 0.5...1.5))
        try builder.addInitializer("bn.bias", dims: [32], floats: generator.floats(32, in: -0.2...0.2))
        try builder.addInitializer("bn.mean", dims: [32], floats: generator.floats(32, in: -0.1...0.1))
        try builder.addInitializer("bn.var", dims: [32], floats: generator.floats(32, in: 0.5...2))
        try builder.addInitializer("conv2.w", dims: [64, 32, 5], floats: weights(64 * 32 * 5, fanIn: 160))
        try builder.addInitializer("conv2.b", dims: [64], floats: weights(64, fanIn: 160))
        let features = 2944 + rrFeatures
        try builder.addInitializer("fc1.w", dims: [128, features], floats: weights(128 * features, fanIn: features))
        try builder.addInitializer("fc1.b", dims: [128], floats: weights(128, fanIn: features))
        try builder.addInitializer("fc2.w", dims: [5, 128], floats: weights(5 * 128, fanIn: 128))
        try builder.addInitializer("fc2.b", dims: [5], floats: weights(5, fanIn: 128))
        let convolution: [AttributeProto] = [.ints("kernel_shape", [5]), .ints("pads", [2, 2]), .ints("strides", [1])]
        let pool: [AttributeProto] = [.ints("kernel_shape", [2]), .ints("strides", [2])]
        try builder.addNode("Conv", inputs: ["beats", "conv1.w", "conv1.b"], outputs: ["c1"], attributes: convolution)
        try builder.addNode(
            "BatchNormalization", inputs: ["c1", "bn.scale", "bn.bias", "bn.mean", "bn.var"], outputs: ["n1"],
            attributes: [.float("epsilon", 1e-5)])
        try builder.addNode("Relu", inputs: ["n1"], outputs: ["r1"])
        try builder.addNode("MaxPool", inputs: ["r1"], outputs: ["p1"], attributes: pool)
        try builder.addNode("Conv", inputs: ["p1", "conv2.w", "conv2.b"], outputs: ["c2"], attributes: convolution)
        try builder.addNode("Relu", inputs: ["c2"], outputs: ["r2"])
        try builder.addNode("MaxPool", inputs: ["r2"], outputs: ["p2"], attributes: pool)
        try builder.addNode("Flatten", inputs: ["p2"], outputs: ["flat"], attributes: [.int("axis", 1)])
        try builder.addNode("Concat", inputs: ["flat", "rr"], outputs: ["features"], attributes: [.int("axis", 1)])
        try builder.addNode(
            "Gemm", inputs: ["features", "fc1.w", "fc1.b"], outputs: ["h"], attributes: [.int("transB", 1)])
        try builder.addNode("Relu", inputs: ["h"], outputs: ["hr"])
        try builder.addNode("Dropout", inputs: ["hr"], outputs: ["hd"])
        try builder.addNode(
            "Gemm", inputs: ["hd", "fc2.w", "fc2.b"], outputs: ["logits"], attributes: [.int("transB", 1)])
        builder.addOutput("logits", shape: ["N", 5])
        builder.setMetadata("classes", "N,S,V,F,Q")
        return builder.serialized()
    }

    func testBuilderModelPassesTheCheckerAndMatchesOnnxRuntime() throws {
        let python = try pythonWithOnnxRuntime()
        let (beatCount, rrFeatures) = (1000, 2)
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let modelURL = directory.appendingPathComponent("model.onnx")
        let modelData = try makeModel(rrFeatures: rrFeatures)
        try modelData.write(to: modelURL)

        var generator = SeededGenerator(seed: 99)
        let beats = generator.floats(beatCount * 187, in: 0...1)
        let rr = generator.floats(beatCount * rrFeatures, in: 0.3...1.5)
        let beatsURL = directory.appendingPathComponent("beats.f32")
        let rrURL = directory.appendingPathComponent("rr.f32")
        let logitsURL = directory.appendingPathComponent("logits.f32")
        try beats.withUnsafeBytes { try Data($0).write(to: beatsURL) }
        try rr.withUnsafeBytes { try Data($0).write(to: rrURL) }

        let (status, output) = try runPython(
            python,
            [
                Self.scriptsDirectory.appendingPathComponent("onnx_check.py").path, modelURL.path,
                "--input", "beats=\(beatsURL.path):\(beatCount),1,187",
                "--input", "rr=\(rrURL.path):\(beatCount),\(rrFeatures)",
                "--output", "logits=\(logitsURL.path)",
            ])
        XCTAssertEqual(status, 0, output)
        guard status == 0 else { return }
        let expected = try Data(contentsOf: logitsURL).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }

        let model = try ONNXModel(data: modelData)
        XCTAssertEqual(model.metadata["classes"], "N,S,V,F,Q")
        let logits = try model.run(inputs: [
            "beats": Tensor(shape: [beatCount, 1, 187], floats: beats),
            "rr": Tensor(shape: [beatCount, rrFeatures], floats: rr),
        ])["logits"]
        XCTAssertEqual(logits?.shape, [beatCount, 5])
        assertClose(logits?.floats, expected, tolerance: 1e-4, "onnxruntime vs Swift over \(beatCount) beats")
    }
}
