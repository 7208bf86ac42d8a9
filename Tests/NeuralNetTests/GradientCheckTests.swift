import XCTest

@testable import NeuralNet

/// Central finite differences against the analytic backward pass, one small model per layer type. A layer without
/// parameters sits between layers with parameters, so its input gradient is checked through theirs.
final class GradientCheckTests: XCTestCase {
    private let batch = 3

    /// Checks every parameter's gradient: (loss(θ + h) - loss(θ - h)) / 2h against `gradients`.
    private func checkGradients(
        _ specs: [LayerSpec], inputLength: Int = 12, featureCount: Int = 0, classCount: Int = 3,
        classWeights: [Float]? = nil, seed: UInt64 = 11, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let model = try Model(
            specs: specs, inputLength: inputLength, featureCount: featureCount, classCount: classCount, seed: seed)
        var random = RandomGenerator(seed: seed &+ 1)
        let windows = (0..<(batch * inputLength)).map { _ in random.uniform(-1, 1) }
        let features = (0..<(batch * featureCount)).map { _ in random.uniform(-1, 1) }
        let labels = (0..<batch).map { $0 % classCount }
        let streamStart = model.random
        func loss() throws -> Double {
            model.random = streamStart  // the same dropout mask for every evaluation
            let result = try model.computeGradients(
                windows: windows, features: features, labels: labels, batch: batch, classWeights: classWeights)
            return Double(result.loss)
        }
        _ = try loss()
        let analytic = model.gradients
        var parameters = model.parameters
        // Central difference at step h; a max-pool or ReLU switching inside ±h bends the secant, so a mismatch is
        // retried with h / 8 before it counts.
        func numericGradient(_ i: Int, _ h: Float) throws -> Double {
            let saved = parameters[i]
            parameters[i] = saved + h
            try model.setParameters(parameters)
            let plus = try loss()
            parameters[i] = saved - h
            try model.setParameters(parameters)
            let minus = try loss()
            parameters[i] = saved
            return (plus - minus) / Double(2 * h)
        }
        func agrees(_ numeric: Double, _ analytic: Float) -> Bool {
            abs(numeric - Double(analytic)) <= 2e-3 + 2e-2 * max(abs(numeric), abs(Double(analytic)))
        }
        var worst: (index: Int, numeric: Double, analytic: Double)?
        for i in 0..<parameters.count {
            let numeric = try numericGradient(i, 1e-3)
            if agrees(numeric, analytic[i]) { continue }
            let fine = try numericGradient(i, 1.25e-4)
            if !agrees(fine, analytic[i]) {
                worst = (i, fine, Double(analytic[i]))
                break
            }
        }
        try model.setParameters(parameters)
        if let worst {
            XCTFail(
                "parameter \(worst.index): numeric \(worst.numeric), analytic \(worst.analytic) in \(specs)",
                file: file, line: line)
        }
        XCTAssertTrue(analytic.contains { $0 != 0 }, "all gradients are zero", file: file, line: line)
    }

    func testConv1dSingleChannelSIMDPathAndLinear() throws {
        // 37 outputs per row: two 16-wide vectors and a scalar tail.
        try checkGradients(
            [.conv1d(outChannels: 3, kernel: 5, stride: 1, padding: 2), .flatten, .linear(outFeatures: 3)],
            inputLength: 37)
    }

    func testConv1dGeneralPathWithStrideAndPadding() throws {
        try checkGradients([
            .conv1d(outChannels: 2, kernel: 3, stride: 1, padding: 1),
            .conv1d(outChannels: 3, kernel: 3, stride: 2, padding: 1), .flatten, .linear(outFeatures: 3),
        ])
    }

    func testConv1dSingleChannelInputGradient() throws {
        // The second conv has one input channel, so its input gradient comes from the SIMD path's scalar loop.
        try checkGradients([
            .conv1d(outChannels: 1, kernel: 3, stride: 1, padding: 1),
            .conv1d(outChannels: 3, kernel: 5, stride: 1, padding: 2), .flatten, .linear(outFeatures: 3),
        ])
    }

    func testReLU() throws {
        try checkGradients([
            .conv1d(outChannels: 2, kernel: 3, stride: 1, padding: 1), .relu, .flatten, .linear(outFeatures: 4),
            .relu, .linear(outFeatures: 3),
        ])
    }

    func testMaxPool1d() throws {
        try checkGradients(
            [
                .conv1d(outChannels: 2, kernel: 3, stride: 1, padding: 1), .maxPool1d(kernel: 2, stride: 2),
                .conv1d(outChannels: 2, kernel: 3, stride: 1, padding: 1), .maxPool1d(kernel: 3, stride: 2), .flatten,
                .linear(outFeatures: 3),
            ], inputLength: 24, seed: 5)
    }

    func testAvgPool1dAndGlobalAveragePooling() throws {
        try checkGradients([
            .conv1d(outChannels: 3, kernel: 3, stride: 1, padding: 1), .avgPool1d(kernel: 3, stride: 2),
            .conv1d(outChannels: 4, kernel: 3, stride: 1, padding: 0), .globalAvgPool, .linear(outFeatures: 3),
        ])
    }

    func testDropoutWithAFixedMask() throws {
        try checkGradients([
            .conv1d(outChannels: 2, kernel: 3, stride: 1, padding: 1), .flatten, .dropout(probability: 0.4),
            .linear(outFeatures: 3),
        ])
    }

    func testBatchNormOnSequencesAndOnFeatures() throws {
        try checkGradients([
            .conv1d(outChannels: 2, kernel: 3, stride: 1, padding: 1), .batchNorm1d, .relu, .flatten,
            .linear(outFeatures: 5), .batchNorm1d, .linear(outFeatures: 3),
        ])
    }

    func testConcatFeatures() throws {
        try checkGradients(
            [
                .conv1d(outChannels: 2, kernel: 3, stride: 1, padding: 1), .flatten, .concatFeatures,
                .linear(outFeatures: 3),
            ], featureCount: 2)
    }

    func testWeightedCrossEntropy() throws {
        try checkGradients(
            [.flatten, .linear(outFeatures: 4)], classCount: 4, classWeights: [0.5, 2, 1, 3])
    }

    func testCrossEntropyLogitGradientsAgainstFiniteDifferences() {
        let B = 3
        let NC = 4
        var logits: [Float] = [0.3, -1.2, 2.0, 0.1, -0.5, 0.7, 0.2, 1.4, 1.0, 1.0, -2.0, 0.0]
        let targets: [Int32] = [2, 0, 3]
        let weights: [Float] = [0.5, 2, 1, 3]
        var probs = [Float](repeating: 0, count: B * NC)
        func loss(_ logits: [Float]) -> Double {
            let (total, weightSum) = crossEntropySums(
                probs: &probs, logits: logits, targets: targets, classWeights: weights, B: B, NC: NC)
            return Double(Float(total / weightSum))
        }
        _ = loss(logits)
        var dlogits = [Float](repeating: 0, count: B * NC)
        crossEntropyBackward(
            dlogits: &dlogits, probs: probs, targets: targets, classWeights: weights, B: B, NC: NC,
            weightSum: classWeightSum(targets: targets, classWeights: weights, B: B))
        let h: Float = 1e-2
        for i in 0..<logits.count {
            let saved = logits[i]
            logits[i] = saved + h
            let plus = loss(logits)
            logits[i] = saved - h
            let minus = loss(logits)
            logits[i] = saved
            XCTAssertEqual((plus - minus) / Double(2 * h), Double(dlogits[i]), accuracy: 1e-3, "logit \(i)")
        }
        // Weighted mean: Σ w_y · nll / Σ w_y.
        let expected =
            [(0, 2), (1, 0), (2, 3)].reduce(0.0) { sum, pair -> Double in
                let row = logits[(pair.0 * NC)..<((pair.0 + 1) * NC)].map(Double.init)
                let logSum = log(row.map { exp($0) }.reduce(0, +))
                return sum + Double(weights[pair.1]) * (logSum - row[pair.1])
            } / Double(weights[2] + weights[0] + weights[3])
        XCTAssertEqual(loss(logits), expected, accuracy: 1e-6)
    }
}
