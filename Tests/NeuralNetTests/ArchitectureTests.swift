import XCTest

@testable import NeuralNet

final class ArchitectureTests: XCTestCase {
    func testOriginalArchitectureMatchesTheDesignBrief() throws {
        let layers = try Architectures.plan(Architectures.original, inputLength: 187, featureCount: 0, classCount: 5)
        XCTAssertEqual(layers.count, 11)
        XCTAssertEqual(layers[6].output, .features(2944))
        XCTAssertEqual(layers[7].parameters.map(\.shape), [[128, 2944], [128]])
        XCTAssertEqual(layers[0].parameters.map(\.shape), [[32, 1, 5], [32]])
        XCTAssertEqual(layers[3].parameters.map(\.shape), [[64, 32, 5], [64]])
        XCTAssertEqual(layers[10].output, .features(5))
        let model = try Model(specs: Architectures.original, inputLength: 187, classCount: 5, seed: 1)
        XCTAssertEqual(model.parameterCount, 32 * 5 + 32 + 64 * 160 + 64 + 128 * 2944 + 128 + 5 * 128 + 5)
        XCTAssertEqual(
            model.stateDict().map(\.key),
            ["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias", "10.weight", "10.bias"])
    }

    func testParseBuildsEverySpecAndRoundTripsThroughOptions() throws {
        let specs: [LayerSpec] = [
            .conv1d(outChannels: 32, kernel: 5, stride: 1, padding: 2), .maxPool1d(kernel: 2, stride: 2),
            .avgPool1d(kernel: 3, stride: 1), .globalAvgPool, .relu, .linear(outFeatures: 128),
            .dropout(probability: 0.2), .flatten, .batchNorm1d, .concatFeatures,
        ]
        for spec in specs {
            XCTAssertEqual(try LayerSpec.parse(type: spec.typeName, options: spec.options), spec)
        }
        XCTAssertEqual(
            try LayerSpec.parse(type: "conv1d", options: ["out": 8, "kernel": 3]),
            .conv1d(outChannels: 8, kernel: 3, stride: 1, padding: 0))
        XCTAssertEqual(try LayerSpec.parse(type: "maxpool", options: ["kernel": 2]), .maxPool1d(kernel: 2, stride: 2))
        XCTAssertEqual(try LayerSpec.parse(type: "dropout", options: [:]), .dropout(probability: 0.5))
    }

    func testParseErrorsNameTheProblem() {
        XCTAssertThrowsError(try LayerSpec.parse(type: "conv2d", options: [:])) { error in
            guard case ArchitectureError.unknownLayerType("conv2d", _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("conv1d"))
        }
        XCTAssertThrowsError(try LayerSpec.parse(type: "conv1d", options: ["kernel": 5])) { error in
            XCTAssertEqual(error as? ArchitectureError, .missingOption(layer: "conv1d", option: "out"))
        }
        XCTAssertThrowsError(try LayerSpec.parse(type: "linear", options: ["out": 2.5])) { error in
            guard case ArchitectureError.invalidOption("linear", "out", 2.5, _) = error else {
                return XCTFail("\(error)")
            }
        }
        XCTAssertThrowsError(try LayerSpec.parse(type: "dropout", options: ["p": 1])) { error in
            guard case ArchitectureError.invalidOption("dropout", "p", 1, _) = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try LayerSpec.parse(type: "maxpool", options: ["kernel": 2, "size": 2])) { error in
            XCTAssertEqual(
                error as? ArchitectureError,
                .unknownOption(layer: "maxpool", option: "size", allowed: ["kernel", "stride"]))
        }
    }

    func testShapeInferenceRefusesLayersThatDoNotFit() {
        func planError(_ specs: [LayerSpec], featureCount: Int = 0) -> ArchitectureError? {
            do {
                _ = try Architectures.plan(specs, inputLength: 16, featureCount: featureCount, classCount: 3)
                return nil
            } catch {
                return error as? ArchitectureError
            }
        }
        // linear on an unflattened sequence
        XCTAssertNotNil(planError([.linear(outFeatures: 3)]))
        // conv after flatten
        XCTAssertNotNil(planError([.flatten, .conv1d(outChannels: 2, kernel: 3, stride: 1, padding: 0)]))
        // kernel longer than the input
        XCTAssertNotNil(planError([.maxPool1d(kernel: 32, stride: 32), .flatten, .linear(outFeatures: 3)]))
        // concat_features without features, and features without concat_features
        XCTAssertNotNil(planError([.flatten, .concatFeatures, .linear(outFeatures: 3)]))
        XCTAssertNotNil(planError([.flatten, .linear(outFeatures: 3)], featureCount: 2))
        // the last layer must produce the class logits
        guard case .shapeMismatch(let index, _, let reason)? = planError([.flatten, .linear(outFeatures: 4)]) else {
            return XCTFail("expected a shape mismatch")
        }
        XCTAssertEqual(index, 1)
        XCTAssertTrue(reason.contains("3 class logits"), reason)
        XCTAssertNil(planError([.flatten, .concatFeatures, .linear(outFeatures: 3)], featureCount: 2))
    }

    func testLayerSpecsAreCodable() throws {
        let data = try JSONEncoder().encode(Architectures.original)
        XCTAssertEqual(try JSONDecoder().decode([LayerSpec].self, from: data), Architectures.original)
    }

    func testInitialisationFollowsPyTorchBounds() throws {
        let model = try Model(
            specs: [
                .conv1d(outChannels: 4, kernel: 5, stride: 1, padding: 0), .batchNorm1d, .flatten,
                .linear(outFeatures: 3),
            ],
            inputLength: 9, classCount: 3, seed: 3)
        let conv = try XCTUnwrap(model.tensor("0.weight"))
        XCTAssertLessThanOrEqual(conv.map(abs).max() ?? 0, 1 / Float(5).squareRoot())
        XCTAssertEqual(model.tensor("1.weight"), [1, 1, 1, 1])
        XCTAssertEqual(model.tensor("1.bias"), [0, 0, 0, 0])
        XCTAssertEqual(model.tensor("1.running_var"), [1, 1, 1, 1])
        let linear = try XCTUnwrap(model.tensor("3.weight"))
        XCTAssertLessThanOrEqual(linear.map(abs).max() ?? 0, 1 / Float(20).squareRoot())
        XCTAssertGreaterThan(linear.map(abs).max() ?? 0, 0.5 / Float(20).squareRoot())
    }

    func testModelRefusesBadInputs() throws {
        let model = try Model(specs: [.flatten, .linear(outFeatures: 3)], inputLength: 4, classCount: 3, seed: 1)
        XCTAssertThrowsError(try model.forward(windows: [1, 2, 3], features: [], batch: 1, training: false)) { error in
            XCTAssertEqual(error as? ModelError, .inputSize(argument: "windows", expected: 4, got: 3))
        }
        XCTAssertThrowsError(
            try model.trainStep(windows: [1, 2, 3, 4], features: [], labels: [3], batch: 1, epoch: 0)
        ) { error in
            XCTAssertEqual(error as? ModelError, .labelOutOfRange(sample: 0, label: 3, classCount: 3))
        }
        XCTAssertThrowsError(try model.setTensor("1.kernel", [])) { error in
            XCTAssertEqual(error as? ModelError, .unknownTensor("1.kernel"))
        }
    }

    func testPredictInChunksEqualsOneEvalForward() throws {
        let data = SyntheticBeats(count: 10, length: 24, featureCount: 2, classCount: 3, seed: 4)
        let model = try Model(
            specs: [
                .conv1d(outChannels: 3, kernel: 5, stride: 1, padding: 2), .batchNorm1d, .relu,
                .maxPool1d(kernel: 2, stride: 2), .flatten, .concatFeatures, .dropout(probability: 0.5),
                .linear(outFeatures: 3),
            ],
            inputLength: 24, featureCount: 2, classCount: 3, seed: 9)
        try train(model, on: data, epochs: 1, batchSize: 4)
        let whole = try model.forward(windows: data.windows, features: data.features, batch: 10, training: false)
        let chunked = try model.predict(windows: data.windows, features: data.features, count: 10, chunkSize: 3)
        // Not bit-equal on every CPU: OpenBLAS's AVX-512 (SkylakeX) GEMM kernels, chosen at load time on such
        // CPUs, sum in an order that depends on the batch size M, so a row's last bits change with the chunk.
        XCTAssertEqual(chunked.count, whole.count)
        for (index, (a, b)) in zip(chunked, whole).enumerated() {
            XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), "logit \(index)")
        }
        let classes = try model.predictClasses(windows: data.windows, features: data.features, count: 10)
        XCTAssertEqual(classes.count, 10)
    }
}
