import CPUFeatures
import Foundation
import XCTest

@testable import ONNX

/// The AVX-512 and AVX2 + FMA kernels: each against onnxruntime's logits of the reference fixture, and against each
/// other, bit for bit (the same arithmetic in the same order, one ZMM register or two YMM registers a step).
final class KernelPathTests: XCTestCase {
    private struct Fixture: Decodable {
        let input_shape: [Int]
        let beats: [Float]
        let logits: [Float]
    }

    private func requireAVX512() throws {
        guard ONNXRuntime.supports(.avx512) else {
            throw XCTSkip(
                "this CPU has no usable AVX-512 (\(CPUFeatures.current.summary)): only the AVX2 + FMA kernels run")
        }
    }

    /// Conv (direct: 1 → 6 channels, K 7) → Relu → MaxPool 2/2 → Conv (direct: 6 → 7, K 5) → Relu →
    /// MaxPool 2/2 → Conv (im2col + sgemm: 7 → 20, K 3) → Relu → GlobalAveragePool → Flatten → Gemm → Relu: every
    /// VectorKernels loop, with ragged filter blocks and row tails.
    private func convolutionStack(seed: UInt64) throws -> ONNXModel {
        var generator = SeededGenerator(seed: seed)
        var builder = ONNXModelBuilder(graphName: "stack", opsetVersion: 17)
        try builder.addInput("x", shape: ["N", 1, 75])
        let layers: [(name: String, filters: Int, channels: Int, kernel: Int)] = [
            ("c1", 6, 1, 7), ("c2", 7, 6, 5), ("c3", 20, 7, 3),
        ]
        var current = "x"
        for (index, layer) in layers.enumerated() {
            try builder.addInitializer(
                "\(layer.name).w", dims: [layer.filters, layer.channels, layer.kernel],
                floats: generator.floats(layer.filters * layer.channels * layer.kernel))
            try builder.addInitializer(
                "\(layer.name).b", dims: [layer.filters], floats: generator.floats(layer.filters))
            try builder.addNode(
                "Conv", inputs: [current, "\(layer.name).w", "\(layer.name).b"], outputs: ["\(layer.name).y"],
                name: layer.name, attributes: [.ints("pads", [layer.kernel / 2, layer.kernel / 2])])
            try builder.addNode(
                "Relu", inputs: ["\(layer.name).y"], outputs: ["\(layer.name).r"], name: "\(layer.name).relu")
            current = "\(layer.name).r"
            if index < 2 {
                try builder.addNode(
                    "MaxPool", inputs: [current], outputs: ["\(layer.name).p"], name: "\(layer.name).pool",
                    attributes: [.ints("kernel_shape", [2]), .ints("strides", [2])])
                current = "\(layer.name).p"
            }
        }
        try builder.addNode("GlobalAveragePool", inputs: [current], outputs: ["g"], name: "gap")
        try builder.addNode("Flatten", inputs: ["g"], outputs: ["f"], name: "flatten")
        try builder.addInitializer("fc.w", dims: [20, 5], floats: generator.floats(100))
        try builder.addInitializer("fc.b", dims: [5], floats: generator.floats(5))
        try builder.addNode("Gemm", inputs: ["f", "fc.w", "fc.b"], outputs: ["z"], name: "fc")
        try builder.addNode("Relu", inputs: ["z"], outputs: ["logits"], name: "fc.relu")
        builder.addOutput("logits", shape: ["N", 5])
        return try ONNXModel(data: builder.serialized())
    }

    func testEveryPathTheCPUSupportsGivesOnnxRuntimesLogits() throws {
        let model = try ONNXModel(contentsOf: fixturesDirectory.appendingPathComponent("original_torch.onnx"))
        let json = try Data(contentsOf: fixturesDirectory.appendingPathComponent("original_torch.json"))
        let fixture = try JSONDecoder().decode(Fixture.self, from: json)
        let paths = KernelPath.allCases.filter(ONNXRuntime.supports)
        XCTAssertTrue(paths.contains(KernelDispatch.path))
        for path in paths {
            let session = model.makeSession(kernelPath: path)
            XCTAssertEqual(session.kernelPath, path)
            let logits = try session.run(inputs: ["beats": Tensor(shape: fixture.input_shape, floats: fixture.beats)])
            assertClose(logits["logits"]?.floats, fixture.logits, tolerance: 1e-4, "kernels \(path)")
        }
    }

    func testAVX512AndAVX2KernelsAgreeBitForBit() throws {
        try requireAVX512()
        let fixtureModel = try ONNXModel(contentsOf: fixturesDirectory.appendingPathComponent("original_torch.onnx"))
        var generator = SeededGenerator(seed: 11)
        for (name, model, window) in [
            ("original_torch", fixtureModel, 187), ("stack", try convolutionStack(seed: 5), 75),
        ] {
            let wide = model.makeSession(kernelPath: .avx512)
            let narrow = model.makeSession(kernelPath: .avx2)
            XCTAssertEqual([wide.kernelPath, narrow.kernelPath], [.avx512, .avx2])
            for batch in [1, 5, 33] {
                let input = Tensor(shape: [batch, 1, window], floats: generator.floats(batch * window))
                let a = try wide.run(inputs: [model.inputs[0].name: input])["logits"]?.floats
                let b = try narrow.run(inputs: [model.inputs[0].name: input])["logits"]?.floats
                XCTAssertNotNil(a)
                XCTAssertEqual(a, b, "\(name), batch \(batch)")
            }
        }
    }

    func testAPathTheCPULacksFallsBackToTheProcessPath() throws {
        let model = try convolutionStack(seed: 2)
        for path in KernelPath.allCases where !ONNXRuntime.supports(path) {
            XCTAssertEqual(model.makeSession(kernelPath: path).kernelPath, KernelDispatch.path, "asked for \(path)")
        }
        XCTAssertEqual(model.makeSession().kernelPath, KernelDispatch.path)
    }
}
