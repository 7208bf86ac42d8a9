import Foundation
import XCTest

@testable import ONNX

/// Each operator against values worked out by hand (or, for larger convolutions, a naive loop).
final class OperatorTests: XCTestCase {
    private func floats(_ shape: [Int], _ values: [Float]) -> Tensor { Tensor(shape: shape, floats: values) }
    private func int64s(_ shape: [Int], _ values: [Int64]) -> Tensor { Tensor(shape: shape, int64s: values) }

    // MARK: Conv

    func testConvDirectPathWithPaddingAndBias() throws {
        let y = try runSingleNode(
            "Conv", inputs: [("x", floats([1, 1, 4], [1, 2, 3, 4]))],
            initializers: [("w", floats([2, 1, 3], [1, 0, -1, 0, 1, 0])), ("b", floats([2], [0.5, 0]))],
            attributes: [.ints("pads", [1, 1]), .ints("kernel_shape", [3])])
        XCTAssertEqual(y.shape, [1, 2, 4])
        assertClose(y.floats, [-1.5, -1.5, -1.5, 3.5, 1, 2, 3, 4])
    }

    func testConvStridedPathWithoutBias() throws {
        let y = try runSingleNode(
            "Conv", inputs: [("x", floats([1, 1, 5], [1, 2, 3, 4, 5]))],
            initializers: [("w", floats([1, 1, 3], [1, 1, 1]))],
            attributes: [.ints("pads", [1, 1]), .ints("strides", [2])])
        XCTAssertEqual(y.shape, [1, 1, 3])
        assertClose(y.floats, [3, 9, 9])
    }

    /// Naive loops for checking both convolution paths on shapes too large to work out by hand.
    private func referenceConvolution(
        x: [Float], batch: Int, channels: Int, length: Int, w: [Float], filters: Int, kernel: Int, bias: [Float],
        pad: Int, stride: Int, dilation: Int = 1
    ) -> [Float] {
        let outputLength = (length + 2 * pad - (kernel - 1) * dilation - 1) / stride + 1
        var y = [Float](repeating: 0, count: batch * filters * outputLength)
        for n in 0..<batch {
            for m in 0..<filters {
                for t in 0..<outputLength {
                    var sum = bias[m]
                    for c in 0..<channels {
                        for k in 0..<kernel {
                            let position = t * stride + k * dilation - pad
                            if position >= 0 && position < length {
                                sum += w[(m * channels + c) * kernel + k] * x[(n * channels + c) * length + position]
                            }
                        }
                    }
                    y[(n * filters + m) * outputLength + t] = sum
                }
            }
        }
        return y
    }

    func testConvBothPathsMatchANaiveConvolutionAcrossBatchesAndThreads() throws {
        var generator = SeededGenerator(seed: 3)
        // (channels, kernel, stride, dilation, batch, filters): direct (stride 1, C·K ≤ 512) and im2col (strided or
        // dilated), with ragged tails and filter blocks.
        let cases = [
            (1, 5, 1, 1, 3, 6), (3, 5, 1, 1, 2, 6), (4, 5, 1, 1, 37, 6), (2, 3, 2, 1, 5, 6), (5, 3, 1, 2, 4, 6),
            (16, 5, 1, 1, 9, 16), (16, 5, 1, 1, 9, 20), (6, 5, 1, 1, 3, 7),
        ]
        for (channels, kernel, stride, dilation, batch, filters) in cases {
            let (length, pad) = (41, 2)
            let x = generator.floats(batch * channels * length)
            let w = generator.floats(filters * channels * kernel)
            let bias = generator.floats(filters)
            let expected = referenceConvolution(
                x: x, batch: batch, channels: channels, length: length, w: w, filters: filters, kernel: kernel,
                bias: bias, pad: pad, stride: stride, dilation: dilation)
            for threads in [1, 2] {
                ONNXRuntime.setThreadCount(threads)
                defer { ONNXRuntime.setThreadCount(1) }
                let y = try runSingleNode(
                    "Conv", inputs: [("x", floats([batch, channels, length], x))],
                    initializers: [("w", floats([filters, channels, kernel], w)), ("b", floats([filters], bias))],
                    attributes: [
                        .ints("pads", [pad, pad]), .ints("strides", [stride]), .ints("dilations", [dilation]),
                    ])
                assertClose(y.floats, expected, tolerance: 1e-4, "C \(channels) K \(kernel) threads \(threads)")
            }
        }
    }

    func testConvFollowedByReluIsFusedAndStillCorrect() throws {
        var builder = ONNXModelBuilder()
        try builder.addInput("x", shape: [2, 4, 30])
        var generator = SeededGenerator(seed: 5)
        let w = generator.floats(3 * 4 * 5)
        try builder.addInitializer("w", dims: [3, 4, 5], floats: w)
        try builder.addInitializer("b", dims: [3], floats: [0.1, -0.2, 0.3])
        try builder.addNode("Conv", inputs: ["x", "w", "b"], outputs: ["c"], attributes: [.ints("pads", [2, 2])])
        try builder.addNode("Relu", inputs: ["c"], outputs: ["y"])
        builder.addOutput("y", shape: [2, 3, 30])
        let model = try ONNXModel(data: builder.serialized())
        let x = generator.floats(2 * 4 * 30)
        let y = try model.run(inputs: ["x": floats([2, 4, 30], x)])["y"]
        let expected = referenceConvolution(
            x: x, batch: 2, channels: 4, length: 30, w: w, filters: 3, kernel: 5, bias: [0.1, -0.2, 0.3], pad: 2,
            stride: 1
        ).map { max($0, 0) }
        assertClose(y?.floats, expected, tolerance: 1e-4)
        XCTAssertEqual(try model.plan(forInputShapes: [[2, 4, 30]]).fusedRelus, 1)
    }

    func testConvRejectsGroupsAndMismatchedChannels() throws {
        assertONNXError(["node", "group"]) {
            _ = try runSingleNode(
                "Conv", inputs: [("x", floats([1, 2, 4], [Float](repeating: 1, count: 8)))],
                initializers: [("w", floats([2, 1, 1], [1, 1]))], attributes: [.int("group", 2)])
        }
        assertONNXError(["shape mismatch in node 'node'", "channels"]) {
            _ = try runSingleNode(
                "Conv", inputs: [("x", floats([1, 2, 4], [Float](repeating: 1, count: 8)))],
                initializers: [("w", floats([1, 3, 1], [1, 1, 1]))])
        }
    }

    // MARK: Pools

    func testMaxPoolFloorCeilAndPadding() throws {
        let x = floats([1, 1, 5], [1, 3, 2, 5, 4])
        let floor = try runSingleNode(
            "MaxPool", inputs: [("x", x)], attributes: [.ints("kernel_shape", [2]), .ints("strides", [2])])
        XCTAssertEqual(floor.shape, [1, 1, 2])
        assertClose(floor.floats, [3, 5])
        let ceil = try runSingleNode(
            "MaxPool", inputs: [("x", x)],
            attributes: [.ints("kernel_shape", [2]), .ints("strides", [2]), .int("ceil_mode", 1)])
        assertClose(ceil.floats, [3, 5, 4])
        let padded = try runSingleNode(
            "MaxPool", inputs: [("x", x)], attributes: [.ints("kernel_shape", [3]), .ints("pads", [1, 1])])
        assertClose(padded.floats, [3, 3, 5, 5, 5])
    }

    func testMaxPoolPairsOverLongRows() throws {
        let values = (0..<(2 * 3 * 75)).map { Float(($0 * 37) % 101) }
        let y = try runSingleNode(
            "MaxPool", inputs: [("x", floats([2, 3, 75], values))],
            attributes: [.ints("kernel_shape", [2]), .ints("strides", [2])])
        var expected: [Float] = []
        for row in 0..<6 {
            for index in 0..<37 { expected.append(max(values[row * 75 + 2 * index], values[row * 75 + 2 * index + 1])) }
        }
        assertClose(y.floats, expected)
    }

    func testAveragePoolWithAndWithoutCountingPadding() throws {
        let x = floats([1, 1, 4], [1, 2, 3, 4])
        let excluding = try runSingleNode(
            "AveragePool", inputs: [("x", x)], attributes: [.ints("kernel_shape", [2]), .ints("pads", [1, 1])])
        assertClose(excluding.floats, [1, 1.5, 2.5, 3.5, 4])
        let including = try runSingleNode(
            "AveragePool", inputs: [("x", x)],
            attributes: [.ints("kernel_shape", [2]), .ints("pads", [1, 1]), .int("count_include_pad", 1)])
        assertClose(including.floats, [0.5, 1.5, 2.5, 3.5, 2])
    }

    func testGlobalAveragePool() throws {
        let y = try runSingleNode("GlobalAveragePool", inputs: [("x", floats([1, 2, 3], [1, 2, 3, 4, 5, 6]))])
        XCTAssertEqual(y.shape, [1, 2, 1])
        assertClose(y.floats, [2, 5])
    }

    // MARK: Elementwise

    func testRelu() throws {
        let values = (0..<37).map { Float($0 - 18) / 3 }
        let y = try runSingleNode("Relu", inputs: [("x", floats([37], values))])
        assertClose(y.floats, values.map { max($0, 0) })
    }

    func testAddBroadcastsLikeNumpy() throws {
        let row = try runSingleNode(
            "Add", inputs: [("a", floats([2, 3], [1, 2, 3, 4, 5, 6])), ("b", floats([3], [10, 20, 30]))])
        XCTAssertEqual(row.shape, [2, 3])
        assertClose(row.floats, [11, 22, 33, 14, 25, 36])
        let outer = try runSingleNode(
            "Add", inputs: [("a", floats([2, 1], [1, 2])), ("b", floats([1, 3], [10, 20, 30]))])
        XCTAssertEqual(outer.shape, [2, 3])
        assertClose(outer.floats, [11, 21, 31, 12, 22, 32])
        let integers = try runSingleNode(
            "Add", inputs: [("a", int64s([2], [1, 2])), ("b", int64s([], [40]))], outputElement: .int64)
        XCTAssertEqual(integers.int64s, [41, 42])
        assertONNXError(["node 'node'", "do not broadcast"]) {
            _ = try runSingleNode("Add", inputs: [("a", floats([2], [1, 2])), ("b", floats([3], [1, 2, 3]))])
        }
    }

    func testMulSubDiv() throws {
        let a = floats([3], [2, 4, 6])
        let b = floats([1], [2])
        assertClose(try runSingleNode("Mul", inputs: [("a", a), ("b", b)]).floats, [4, 8, 12])
        assertClose(try runSingleNode("Sub", inputs: [("a", a), ("b", b)]).floats, [0, 2, 4])
        assertClose(try runSingleNode("Div", inputs: [("a", a), ("b", b)]).floats, [1, 2, 3])
    }

    func testBatchNormalizationInference() throws {
        let y = try runSingleNode(
            "BatchNormalization", inputs: [("x", floats([1, 2, 2], [1, 2, 3, 4]))],
            initializers: [
                ("scale", floats([2], [2, 1])), ("bias", floats([2], [0, 1])), ("mean", floats([2], [1, 3])),
                ("var", floats([2], [4, 0.25])),
            ], attributes: [.float("epsilon", 0)])
        assertClose(y.floats, [0, 1, 1, 3])
    }

    func testSoftmaxOverTheLastAndFirstAxis() throws {
        let y = try runSingleNode("Softmax", inputs: [("x", floats([1, 3], [1, 2, 3]))])
        let sum = Float(exp(-2.0) + exp(-1.0) + 1)
        assertClose(y.floats, [Float(exp(-2.0)) / sum, Float(exp(-1.0)) / sum, 1 / sum])
        let columns = try runSingleNode(
            "Softmax", inputs: [("x", floats([2, 1], [0, 0]))], attributes: [.int("axis", 0)])
        assertClose(columns.floats, [0.5, 0.5])
    }

    func testCastBetweenFloatAndInt64() throws {
        let truncated = try runSingleNode(
            "Cast", inputs: [("x", floats([3], [1.7, -1.7, .nan]))], attributes: [.int("to", 7)], outputElement: .int64)
        XCTAssertEqual(truncated.int64s, [1, -1, 0])
        let widened = try runSingleNode(
            "Cast", inputs: [("x", int64s([2], [3, -4]))], attributes: [.int("to", 1)])
        assertClose(widened.floats, [3, -4])
        assertONNXError(["unsupported ONNX data type 11"]) {
            _ = try runSingleNode("Cast", inputs: [("x", floats([1], [1]))], attributes: [.int("to", 11)])
        }
    }

    // MARK: Matrix products

    func testGemmWithAlphaBetaAndTransposes() throws {
        let a: [Float] = [1, 2, 3, 4, 5, 6]
        let b: [Float] = [1, 0, 0, 1, 1, 1]
        let bias = floats([2], [10, 20])
        let expected: [Float] = [13, 20, 25, 32]
        let alphaBeta: [AttributeProto] = [.float("alpha", 2), .float("beta", 0.5)]
        let plain = try runSingleNode(
            "Gemm", inputs: [("a", floats([2, 3], a))], initializers: [("b", floats([3, 2], b)), ("c", bias)],
            attributes: alphaBeta)
        XCTAssertEqual(plain.shape, [2, 2])
        assertClose(plain.floats, expected)
        let transposedB = try runSingleNode(
            "Gemm", inputs: [("a", floats([2, 3], a))],
            initializers: [("b", floats([2, 3], [1, 0, 1, 0, 1, 1])), ("c", bias)],
            attributes: alphaBeta + [.int("transB", 1)])
        assertClose(transposedB.floats, expected)
        let transposedA = try runSingleNode(
            "Gemm", inputs: [("a", floats([3, 2], [1, 4, 2, 5, 3, 6]))],
            initializers: [("b", floats([3, 2], b)), ("c", bias)], attributes: alphaBeta + [.int("transA", 1)])
        assertClose(transposedA.floats, expected)
    }

    func testGemmSingleRowUsesTheVectorPath() throws {
        let b: [Float] = [1, 0, 0, 1, 1, 1]
        let row = try runSingleNode(
            "Gemm", inputs: [("a", floats([1, 3], [1, 2, 3]))],
            initializers: [("b", floats([3, 2], b)), ("c", floats([1, 2], [1, 1]))])
        assertClose(row.floats, [5, 6])
        let transposed = try runSingleNode(
            "Gemm", inputs: [("a", floats([1, 3], [1, 2, 3]))],
            initializers: [("b", floats([2, 3], [1, 0, 1, 0, 1, 1]))], attributes: [.int("transB", 1)])
        assertClose(transposed.floats, [4, 5])
        assertONNXError(["node 'node'", "do not multiply"]) {
            _ = try runSingleNode(
                "Gemm", inputs: [("a", floats([1, 3], [1, 2, 3]))], initializers: [("b", floats([2, 2], b.suffix(4)))])
        }
    }

    func testMatMulPlainBatchedAndVector() throws {
        let plain = try runSingleNode(
            "MatMul",
            inputs: [("a", floats([2, 3], [1, 2, 3, 4, 5, 6])), ("b", floats([3, 2], [1, 0, 0, 1, 1, 1]))])
        assertClose(plain.floats, [4, 5, 10, 11])
        let batched = try runSingleNode(
            "MatMul", inputs: [("a", floats([2, 1, 2], [1, 2, 3, 4])), ("b", floats([2, 2], [1, 2, 3, 4]))])
        XCTAssertEqual(batched.shape, [2, 1, 2])
        assertClose(batched.floats, [7, 10, 15, 22])
        let broadcastRight = try runSingleNode(
            "MatMul", inputs: [("a", floats([1, 2], [1, 2])), ("b", floats([2, 2, 1], [1, 1, 2, 3]))])
        XCTAssertEqual(broadcastRight.shape, [2, 1, 1])
        assertClose(broadcastRight.floats, [3, 8])
        let vector = try runSingleNode(
            "MatMul", inputs: [("a", floats([3], [1, 2, 3])), ("b", floats([3, 2], [1, 0, 0, 1, 1, 1]))])
        XCTAssertEqual(vector.shape, [2])
        assertClose(vector.floats, [4, 5])
    }

    // MARK: Shapes and data movement

    func testFlattenAtAxes() throws {
        let x = floats([2, 3, 4], (0..<24).map(Float.init))
        XCTAssertEqual(try runSingleNode("Flatten", inputs: [("x", x)]).shape, [2, 12])
        XCTAssertEqual(try runSingleNode("Flatten", inputs: [("x", x)], attributes: [.int("axis", 0)]).shape, [1, 24])
        let last = try runSingleNode("Flatten", inputs: [("x", x)], attributes: [.int("axis", -1)])
        XCTAssertEqual(last.shape, [6, 4])
        assertClose(last.floats, (0..<24).map(Float.init))
    }

    func testReshapeWithZeroAndMinusOne() throws {
        let x = floats([2, 3, 4], (0..<24).map(Float.init))
        let copied = try runSingleNode(
            "Reshape", inputs: [("x", x)], initializers: [("shape", int64s([2], [0, -1]))])
        XCTAssertEqual(copied.shape, [2, 12])
        assertClose(copied.floats, (0..<24).map(Float.init))
        let inferred = try runSingleNode(
            "Reshape", inputs: [("x", x)], initializers: [("shape", int64s([2], [-1, 12]))],
            attributes: [.int("allowzero", 1)])
        XCTAssertEqual(inferred.shape, [2, 12])
        assertONNXError(["shape mismatch in node 'node'", "cannot reshape"]) {
            _ = try runSingleNode("Reshape", inputs: [("x", x)], initializers: [("shape", int64s([2], [5, -1]))])
        }
        assertONNXError(["node 'node'", "must be a constant"]) {
            _ = try runSingleNode("Reshape", inputs: [("x", x), ("shape", int64s([2], [0, -1]))])
        }
    }

    func testSqueezeAndUnsqueezeWithInputAndAttributeAxes() throws {
        let x = floats([1, 2, 1], [7, 8])
        XCTAssertEqual(
            try runSingleNode("Squeeze", inputs: [("x", x)], initializers: [("axes", int64s([1], [0]))]).shape, [2, 1])
        XCTAssertEqual(try runSingleNode("Squeeze", inputs: [("x", x)]).shape, [2])
        XCTAssertEqual(
            try runSingleNode("Squeeze", inputs: [("x", x)], attributes: [.ints("axes", [-1])], opset: 11).shape,
            [1, 2])
        assertONNXError(["node 'node'", "cannot squeeze axis 1"]) {
            _ = try runSingleNode("Squeeze", inputs: [("x", x)], initializers: [("axes", int64s([1], [1]))])
        }
        let y = floats([2, 3], (0..<6).map(Float.init))
        let unsqueezed = try runSingleNode(
            "Unsqueeze", inputs: [("x", y)], initializers: [("axes", int64s([2], [0, 3]))])
        XCTAssertEqual(unsqueezed.shape, [1, 2, 3, 1])
        XCTAssertEqual(
            try runSingleNode("Unsqueeze", inputs: [("x", y)], attributes: [.ints("axes", [1])], opset: 11).shape,
            [2, 1, 3])
    }

    func testConcatAlongAnAxis() throws {
        let y = try runSingleNode(
            "Concat", inputs: [("a", floats([2, 1], [1, 2])), ("b", floats([2, 2], [3, 4, 5, 6]))],
            attributes: [.int("axis", 1)])
        XCTAssertEqual(y.shape, [2, 3])
        assertClose(y.floats, [1, 3, 4, 2, 5, 6])
        let integers = try runSingleNode(
            "Concat", inputs: [("a", int64s([1], [1])), ("b", int64s([2], [2, 3]))], attributes: [.int("axis", 0)],
            outputElement: .int64)
        XCTAssertEqual(integers.int64s, [1, 2, 3])
        assertONNXError(["node 'node'", "cannot concatenate"]) {
            _ = try runSingleNode(
                "Concat", inputs: [("a", floats([2, 1], [1, 2])), ("b", floats([1, 2], [3, 4]))],
                attributes: [.int("axis", 1)])
        }
    }

    func testGatherOnAxesWithNegativeAndScalarIndices() throws {
        let data = floats([3, 2], [1, 2, 3, 4, 5, 6])
        let rows = try runSingleNode("Gather", inputs: [("data", data), ("i", int64s([2], [2, -3]))])
        XCTAssertEqual(rows.shape, [2, 2])
        assertClose(rows.floats, [5, 6, 1, 2])
        let column = try runSingleNode(
            "Gather", inputs: [("data", data), ("i", int64s([], [1]))], attributes: [.int("axis", 1)])
        XCTAssertEqual(column.shape, [3])
        assertClose(column.floats, [2, 4, 6])
        assertONNXError(["node 'node'", "out of range"]) {
            _ = try runSingleNode("Gather", inputs: [("data", data), ("i", int64s([1], [3]))])
        }
    }

    func testShapeWithStartAndEnd() throws {
        let x = floats([2, 3, 4], [Float](repeating: 0, count: 24))
        XCTAssertEqual(try runSingleNode("Shape", inputs: [("x", x)], outputElement: .int64).int64s, [2, 3, 4])
        XCTAssertEqual(
            try runSingleNode("Shape", inputs: [("x", x)], attributes: [.int("start", 1)], outputElement: .int64)
                .int64s,
            [3, 4])
        XCTAssertEqual(
            try runSingleNode("Shape", inputs: [("x", x)], attributes: [.int("end", -1)], outputElement: .int64).int64s,
            [2, 3])
    }

    func testConstantIdentityAndDropout() throws {
        var tensor = TensorProto()
        tensor.dims = [2]
        tensor.dataType = TensorProto.DataType.float.rawValue
        tensor.floatData = [1.5, -2]
        let constant = try runSingleNode("Constant", inputs: [], attributes: [.tensor("value", tensor)])
        XCTAssertEqual(constant.shape, [2])
        assertClose(constant.floats, [1.5, -2])
        let ints = try runSingleNode(
            "Constant", inputs: [], attributes: [.ints("value_ints", [4, 5])], outputElement: .int64)
        XCTAssertEqual(ints.int64s, [4, 5])
        let x = floats([2], [3, 4])
        assertClose(try runSingleNode("Identity", inputs: [("x", x)]).floats, [3, 4])
        assertClose(try runSingleNode("Dropout", inputs: [("x", x)]).floats, [3, 4])
    }
}
