import Foundation
import XCTest

@testable import ONNX

/// The original model exported by PyTorch (scripts/onnx_reference.py) must give onnxruntime's logits.
final class ReferenceFixtureTests: XCTestCase {
    private struct Fixture: Decodable {
        let exporter: String
        let ops: [String]
        let input_shape: [Int]
        let beats: [Float]
        let output_shape: [Int]
        let logits: [Float]
    }

    private func loadFixture() throws -> (ONNXModel, Fixture) {
        let model = try ONNXModel(contentsOf: fixturesDirectory.appendingPathComponent("original_torch.onnx"))
        let json = try Data(contentsOf: fixturesDirectory.appendingPathComponent("original_torch.json"))
        return (model, try JSONDecoder().decode(Fixture.self, from: json))
    }

    func testTorchExportDescribesItsInputsAndOutputs() throws {
        let (model, fixture) = try loadFixture()
        XCTAssertEqual(model.inputs.map(\.description), ["beats: float32[N, 1, 187]"])
        XCTAssertEqual(model.outputs.map(\.description), ["logits: float32[N, 5]"])
        XCTAssertEqual(model.opsetVersion, 17)
        XCTAssertEqual(model.producerName, "pytorch")
        XCTAssertTrue(fixture.ops.contains("Gemm"), "fixture ops: \(fixture.ops)")
    }

    func testBatchedLogitsMatchOnnxRuntime() throws {
        let (model, fixture) = try loadFixture()
        for threads in [1, 2] {
            ONNXRuntime.setThreadCount(threads)
            defer { ONNXRuntime.setThreadCount(1) }
            let logits = try model.run(inputs: ["beats": Tensor(shape: fixture.input_shape, floats: fixture.beats)])
            XCTAssertEqual(logits["logits"]?.shape, fixture.output_shape)
            assertClose(logits["logits"]?.floats, fixture.logits, tolerance: 1e-4, "threads \(threads)")
        }
    }

    func testSingleBeatLogitsMatchOnnxRuntime() throws {
        let (model, fixture) = try loadFixture()
        let window = fixture.input_shape[2]
        let classes = fixture.output_shape[1]
        for beat in 0..<fixture.input_shape[0] {
            let input = Array(fixture.beats[(beat * window)..<((beat + 1) * window)])
            let output = try model.run(Tensor(shape: [1, 1, window], floats: input))
            assertClose(
                output.floats, Array(fixture.logits[(beat * classes)..<((beat + 1) * classes)]), tolerance: 1e-4,
                "beat \(beat)")
        }
    }

    func testSessionsOfOneModelRunInParallelAndGiveTheModelsLogits() throws {
        let (model, fixture) = try loadFixture()
        let expected = try model.run(inputs: ["beats": Tensor(shape: fixture.input_shape, floats: fixture.beats)])
        let sessions = (0..<3).map { _ in model.makeSession() }
        let lock = NSLock()
        nonisolated(unsafe) var results = [[Float]?](repeating: nil, count: sessions.count)
        DispatchQueue.concurrentPerform(iterations: sessions.count) { index in
            // Each session plans the batch shape on its own buffers, twice to reuse its plan.
            for _ in 0..<2 {
                let output = try? sessions[index].run(inputs: [
                    "beats": Tensor(shape: fixture.input_shape, floats: fixture.beats)
                ])
                lock.lock()
                results[index] = output?["logits"]?.floats
                lock.unlock()
            }
        }
        for (index, logits) in results.enumerated() {
            XCTAssertEqual(logits, expected["logits"]?.floats, "session \(index)")
        }
        XCTAssertTrue(sessions.allSatisfy { $0.model === model })
        XCTAssertThrowsError(
            try sessions[0].run(inputs: ["beats": Tensor(shape: [1, 1, 5], floats: [0, 0, 0, 0, 0])]))
    }

    func testShapeArithmeticIsFoldedWhenPlanning() throws {
        let (model, fixture) = try loadFixture()
        let plan = try model.plan(forInputShapes: [[64, 1, 187]])
        // TorchScript's `x.view(x.size(0), -1)`: Shape, Gather, Unsqueeze, Concat and Constants fold away,
        // Reshape becomes a view, and each Relu folds into its Conv or Gemm.
        if fixture.exporter == "torchscript" { XCTAssertGreaterThanOrEqual(plan.foldedNodes, 6) }
        XCTAssertEqual(plan.fusedRelus, 3)
        XCTAssertEqual(plan.steps.count, 6, "Conv, MaxPool, Conv, MaxPool, Gemm, Gemm")
    }
}
