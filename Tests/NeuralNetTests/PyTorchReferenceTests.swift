import Foundation
import XCTest

@testable import NeuralNet

/// The layout of Fixtures/neuralnet_reference.json, written by scripts/neuralnet_reference.py with PyTorch.
private struct ReferenceFixture: Decodable {
    struct Layer: Decodable {
        let type: String
        let options: [String: Double]
    }

    struct OptimizerRun: Decodable {
        let kind: String
        let learning_rate: Double
        let weight_decay: Double
        let clip: Double?
        let steps: Int
        let losses: [Float]
        let parameters: [String: [Float]]
    }

    struct ReferenceModel: Decodable {
        let name: String
        let layers: [Layer]
        let input_length: Int
        let feature_count: Int
        let class_count: Int
        let batch: Int
        let class_weights: [Float]?
        let windows: [Float]
        let features: [Float]
        let labels: [Int]
        let initial_state: [String: [Float]]
        let logits: [Float]
        let loss: Float
        let gradients: [String: [Float]]
        let running_stats: [String: [Float]]
        let eval_logits: [Float]
        let optimizer_runs: [OptimizerRun]
    }

    struct Schedule: Decodable {
        let name: String
        let base: Double
        let rates: [Double]
    }

    let format_version: Int
    let models: [ReferenceModel]
    let schedules: [Schedule]
}

/// Forward, backward, BatchNorm statistics and optimizer steps against PyTorch, within 1e-5.
final class PyTorchReferenceTests: XCTestCase {
    private let tolerance: Float = 1e-5

    private func loadFixture() throws -> ReferenceFixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/neuralnet_reference.json")
        let fixture = try JSONDecoder().decode(ReferenceFixture.self, from: Data(contentsOf: url))
        XCTAssertEqual(fixture.format_version, 1, "regenerate with scripts/neuralnet_reference.py")
        XCTAssertEqual(fixture.models.count, 2)
        return fixture
    }

    /// Builds the fixture's model with PyTorch's initial weights.
    private func makeModel(_ reference: ReferenceFixture.ReferenceModel, optimizer: OptimizerConfig = OptimizerConfig())
        throws -> Model
    {
        let specs = try reference.layers.map { try LayerSpec.parse(type: $0.type, options: $0.options) }
        let model = try Model(
            specs: specs, inputLength: reference.input_length, featureCount: reference.feature_count,
            classCount: reference.class_count, seed: 0, optimizer: optimizer)
        XCTAssertEqual(
            Set(model.stateDict().map(\.key)), Set(reference.initial_state.keys), "\(reference.name): state_dict keys")
        for (key, values) in reference.initial_state {
            try model.setTensor(key, values)
        }
        return model
    }

    func testForwardBackwardAndRunningStatisticsMatchPyTorch() throws {
        let previous = threadCount()
        defer { setThreadCount(previous) }
        for (count, reference) in try [1, 2].flatMap({ count in try loadFixture().models.map { (count, $0) } }) {
            setThreadCount(count)  // one thread, and the split kernels
            let model = try makeModel(reference)
            let initialBuffers = model.buffers
            let logits = try model.forward(
                windows: reference.windows, features: reference.features, batch: reference.batch, training: true)
            assertClose(logits, reference.logits, tolerance: tolerance, "\(reference.name) logits")

            try model.setBuffers(initialBuffers)  // one running-statistics update, as in the reference
            let result = try model.computeGradients(
                windows: reference.windows, features: reference.features, labels: reference.labels,
                batch: reference.batch, classWeights: reference.class_weights)
            XCTAssertEqual(
                result.loss, reference.loss, accuracy: tolerance * max(1, abs(reference.loss)), reference.name)
            let gradients = model.gradients
            for layer in model.layers {
                for tensor in layer.parameters {
                    let key = "\(layer.index).\(tensor.name)"
                    let actual = Array(gradients[tensor.offset..<(tensor.offset + tensor.count)])
                    assertClose(
                        actual, reference.gradients[key] ?? [], tolerance: tolerance, "\(reference.name) ∂\(key)")
                }
            }
            for (key, expected) in reference.running_stats {
                assertClose(model.tensor(key) ?? [], expected, tolerance: tolerance, "\(reference.name) \(key)")
            }
            let evalLogits = try model.forward(
                windows: reference.windows, features: reference.features, batch: reference.batch, training: false)
            assertClose(evalLogits, reference.eval_logits, tolerance: tolerance, "\(reference.name) eval logits")
        }
    }

    func testAdamAndAdamWStepsMatchPyTorch() throws {
        for reference in try loadFixture().models {
            for run in reference.optimizer_runs {
                let config = OptimizerConfig(
                    kind: run.kind == "adamw" ? .adamW : .adam, learningRate: run.learning_rate,
                    weightDecay: run.weight_decay, gradientClipNorm: run.clip)
                let model = try makeModel(reference, optimizer: config)
                for step in 0..<run.steps {
                    let result = try model.trainStep(
                        windows: reference.windows, features: reference.features, labels: reference.labels,
                        batch: reference.batch, epoch: 0, classWeights: reference.class_weights)
                    XCTAssertEqual(
                        result.loss, run.losses[step], accuracy: tolerance, "\(reference.name) \(run.kind) step \(step)"
                    )
                }
                XCTAssertEqual(model.optimizerStep, run.steps)
                for (key, expected) in run.parameters {
                    assertClose(
                        model.tensor(key) ?? [], expected, tolerance: tolerance, "\(reference.name) \(run.kind) \(key)")
                }
            }
        }
    }

    func testLearningRateSchedulesMatchPyTorch() throws {
        for schedule in try loadFixture().schedules {
            let rule: LearningRateSchedule =
                schedule.name == "step" ? .step(stepSize: 2, gamma: 0.5) : .cosine(totalEpochs: 5)
            for (epoch, expected) in schedule.rates.enumerated() {
                XCTAssertEqual(
                    rule.learningRate(base: schedule.base, epoch: epoch), expected, accuracy: 1e-12,
                    "\(schedule.name) epoch \(epoch)")
            }
        }
    }
}
