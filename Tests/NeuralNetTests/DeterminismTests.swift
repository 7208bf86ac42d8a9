import Foundation
import XCTest

@testable import NeuralNet

/// Same data, seed and thread count ⇒ bit-identical weights; a checkpoint taken mid-epoch resumes to the same end.
final class DeterminismTests: XCTestCase {
    private let data = SyntheticBeats(count: 48, length: 32, featureCount: 2, classCount: 3, seed: 21)
    private let specs: [LayerSpec] = [
        .conv1d(outChannels: 4, kernel: 5, stride: 1, padding: 2), .relu, .maxPool1d(kernel: 2, stride: 2),
        .conv1d(outChannels: 8, kernel: 3, stride: 1, padding: 1), .batchNorm1d, .relu,
        .maxPool1d(kernel: 2, stride: 2), .flatten, .concatFeatures, .linear(outFeatures: 16), .relu,
        .dropout(probability: 0.2), .linear(outFeatures: 3),
    ]
    private let optimizer = OptimizerConfig(
        kind: .adam, learningRate: 3e-3, schedule: .step(stepSize: 1, gamma: 0.7), gradientClipNorm: 5)

    private func freshModel() throws -> Model {
        try Model(specs: specs, inputLength: 32, featureCount: 2, classCount: 3, seed: 99, optimizer: optimizer)
    }

    func testTrainingTwiceGivesBitIdenticalWeights() throws {
        let first = try freshModel()
        try train(first, on: data, epochs: 3, batchSize: 8)
        let second = try freshModel()
        try train(second, on: data, epochs: 3, batchSize: 8)
        XCTAssertEqual(bits(first.parameters), bits(second.parameters))
        XCTAssertEqual(bits(first.buffers), bits(second.buffers))
        XCTAssertEqual(first.random, second.random)
    }

    func testEachThreadCountIsDeterministic() throws {
        let previous = threadCount()
        defer { setThreadCount(previous) }
        for count in [1, 2] {
            setThreadCount(count)
            XCTAssertEqual(threadCount(), count)
            XCTAssertEqual(blasThreadCount(), count)
            let first = try freshModel()
            try train(first, on: data, epochs: 1, batchSize: 8)
            let second = try freshModel()
            try train(second, on: data, epochs: 1, batchSize: 8)
            XCTAssertEqual(bits(first.parameters), bits(second.parameters), "\(count) threads")
        }
    }

    func testResumingFromAMidEpochCheckpointMatchesAnUninterruptedRun() throws {
        let uninterrupted = try freshModel()
        try train(uninterrupted, on: data, epochs: 3, batchSize: 8)

        let interrupted = try freshModel()
        let stop = try train(interrupted, on: data, epochs: 3, batchSize: 8, maxSteps: 9)  // epoch 1, batch 3
        XCTAssertEqual(stop.epoch, 1)
        let url = try temporaryDirectory(self).appendingPathComponent("resume.ckpt")
        try interrupted.checkpoint(classNames: ["N", "S", "V"], epoch: stop.epoch, trainingState: stop.encoded)
            .write(to: url)

        let checkpoint = try Checkpoint.read(from: url)
        let resumed = try Model(checkpoint: checkpoint, file: url.path)
        let state = try XCTUnwrap(LoopState(encoded: checkpoint.trainingState))
        XCTAssertEqual(state, stop)
        try train(resumed, on: data, epochs: 3, batchSize: 8, from: state)
        XCTAssertEqual(bits(resumed.parameters), bits(uninterrupted.parameters))
        XCTAssertEqual(bits(resumed.buffers), bits(uninterrupted.buffers))
        XCTAssertEqual(bits(resumed.optimizerMoments.v), bits(uninterrupted.optimizerMoments.v))
    }

    func testTrainingLearnsTheSyntheticClasses() throws {
        let model = try Model(
            specs: specs, inputLength: 32, featureCount: 2, classCount: 3, seed: 99,
            optimizer: OptimizerConfig(learningRate: 1e-2))
        try train(model, on: data, epochs: 15, batchSize: 8)
        let predicted = try model.predictClasses(windows: data.windows, features: data.features, count: data.count)
        let correct = zip(predicted, data.labels).filter { $0 == $1 }.count
        XCTAssertGreaterThan(correct, data.count * 2 / 3, "accuracy \(correct)/\(data.count)")
    }

    /// Without BatchNorm, a batch of 32 on 2 workers runs as two shards of 16, each a whole pass of its own; the
    /// step must compute what the one-pass step computes: the same loss, accuracy, dropout draws and, up to the
    /// order of the sums, gradients.
    func testASplitBatchComputesWhatTheWholeBatchDoes() throws {
        let previous = threadCount()
        defer { setThreadCount(previous) }
        let batch = SyntheticBeats(count: 32, length: 32, featureCount: 2, classCount: 3, seed: 5)
        let unsharded: [LayerSpec] = specs.filter { $0 != .batchNorm1d }
        let weights: [Float] = [1, 4, 2]
        var results: [(TrainingStepResult, [Float], RandomGenerator)] = []
        for count in [1, 2] {
            setThreadCount(count)
            let model = try Model(
                specs: unsharded, inputLength: 32, featureCount: 2, classCount: 3, seed: 7, optimizer: optimizer)
            XCTAssertEqual(model.shardCount(batch: 32), count)
            let result = try model.computeGradients(
                windows: batch.windows, features: batch.features, labels: batch.labels, batch: 32,
                classWeights: weights)
            results.append((result, model.gradients, model.random))
        }
        let (whole, wholeGradients, wholeRandom) = results[0]
        let (split, splitGradients, splitRandom) = results[1]
        XCTAssertEqual(split.loss, whole.loss, accuracy: 1e-6 * max(1, abs(whole.loss)))
        XCTAssertEqual(split.correct, whole.correct)
        XCTAssertEqual(splitRandom, wholeRandom, "the same dropout draws")
        let scale = wholeGradients.map(abs).max() ?? 1
        for (index, (a, b)) in zip(splitGradients, wholeGradients).enumerated() {
            XCTAssertEqual(a, b, accuracy: 1e-5 * scale, "gradient \(index)")
        }
        XCTAssertGreaterThan(scale, 0)

        setThreadCount(2)
        let withBatchNorm = try freshModel()
        XCTAssertEqual(withBatchNorm.shardCount(batch: 32), 1, "BatchNorm needs the whole batch")
        let model = try Model(specs: unsharded, inputLength: 32, featureCount: 2, classCount: 3, seed: 7)
        XCTAssertEqual(model.shardCount(batch: 15), 1, "shards of fewer than 8 samples are not worth it")
    }

    /// A batch of more than 32 samples per worker is cut into shards of at most 32, more shards than workers, each
    /// worker taking the next: still the one-pass step's function, and bit-identical from run to run however the
    /// shards fall to the workers.
    func testABatchSplitIntoMoreShardsThanWorkersComputesWhatTheWholeBatchDoes() throws {
        let previous = threadCount()
        defer { setThreadCount(previous) }
        let batch = SyntheticBeats(count: 100, length: 32, featureCount: 2, classCount: 3, seed: 8)
        let unsharded: [LayerSpec] = specs.filter { $0 != .batchNorm1d }
        var results: [(TrainingStepResult, [Float])] = []
        for count in [1, 2, 2] {
            setThreadCount(count)
            let model = try Model(
                specs: unsharded, inputLength: 32, featureCount: 2, classCount: 3, seed: 7, optimizer: optimizer)
            XCTAssertEqual(model.shardCount(batch: 100), count == 1 ? 1 : 4)
            let result = try model.computeGradients(
                windows: batch.windows, features: batch.features, labels: batch.labels, batch: 100)
            results.append((result, model.gradients))
        }
        let (whole, wholeGradients) = results[0]
        let (split, splitGradients) = results[1]
        XCTAssertEqual(split.loss, whole.loss, accuracy: 1e-6 * max(1, abs(whole.loss)))
        XCTAssertEqual(split.correct, whole.correct)
        let scale = wholeGradients.map(abs).max() ?? 1
        XCTAssertGreaterThan(scale, 0)
        for (index, (a, b)) in zip(splitGradients, wholeGradients).enumerated() {
            XCTAssertEqual(a, b, accuracy: 1e-5 * scale, "gradient \(index)")
        }
        XCTAssertEqual(bits(results[2].1), bits(splitGradients), "the same split twice")

        setThreadCount(2)
        let model = try Model(specs: unsharded, inputLength: 32, featureCount: 2, classCount: 3, seed: 7)
        XCTAssertEqual(model.shardCount(batch: 64), 2, "32 per worker: one shard each, as before")
        XCTAssertEqual(model.shardCount(batch: 256), 8)
    }

    /// Prediction runs in a workspace without gradients whose activations alternate between two buffers: chunks of
    /// 16, a smaller batch in the front of the same buffers, and one sample at a time must give the same logits.
    func testPredictionInChunksMatchesPredictionOneSampleAtATime() throws {
        let model = try freshModel()
        try train(model, on: data, epochs: 1, batchSize: 8)
        let predicted = try model.predict(
            windows: data.windows, features: data.features, count: data.count, chunkSize: 16)
        let firstEight = try model.predict(
            windows: Array(data.windows.prefix(8 * 32)), features: Array(data.features.prefix(16)), count: 8)
        XCTAssertEqual(bits(firstEight), bits(Array(predicted.prefix(8 * 3))))
        for sample in [0, 17, 47] {
            let one = try model.predict(
                windows: Array(data.windows[(sample * 32)..<((sample + 1) * 32)]),
                features: Array(data.features[(sample * 2)..<((sample + 1) * 2)]), count: 1)
            for (a, b) in zip(one, predicted[(sample * 3)..<((sample + 1) * 3)]) {
                XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), "sample \(sample)")
            }
        }
    }
}
