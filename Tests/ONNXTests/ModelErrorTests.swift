import Foundation
import XCTest

@testable import ONNX

/// Files and graphs that must be refused, each with an error that says what and where.
final class ModelErrorTests: XCTestCase {
    func testANonONNXFileIsRefused() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("notes.onnx")
        try Data("ECG beats are not a protobuf.\n".utf8).write(to: file)
        assertONNXError(["ONNX"]) { _ = try ONNXModel(contentsOf: file) }
        assertONNXError(["cannot read ONNX file", "missing.onnx"]) {
            _ = try ONNXModel(contentsOf: directory.appendingPathComponent("missing.onnx"))
        }
        assertONNXError(["the model has no graph"]) { _ = try ONNXModel(data: Data()) }
    }

    func testATruncatedFileIsRefused() throws {
        let data = try Data(contentsOf: fixturesDirectory.appendingPathComponent("original_torch.onnx"))
        for length in [1, 100, data.count / 2, data.count - 1] {
            assertONNXError(["malformed ONNX protobuf"]) { _ = try ONNXModel(data: data.prefix(length)) }
        }
    }

    func testAnUnsupportedOperatorIsNamedWithItsNode() throws {
        var builder = ONNXModelBuilder()
        try builder.addInput("x", shape: [1, 4])
        try builder.addNode("LSTM", inputs: ["x"], outputs: ["y"], name: "recurrent_block")
        builder.addOutput("y", shape: [1, 4])
        assertONNXError(["unsupported ONNX operator LSTM", "recurrent_block"]) {
            _ = try ONNXModel(data: builder.serialized())
        }
    }

    func testUndefinedInputsAndCyclesAreNamed() throws {
        var undefined = ONNXModelBuilder()
        try undefined.addInput("x", shape: [2])
        try undefined.addNode("Add", inputs: ["x", "ghost"], outputs: ["y"], name: "adder")
        undefined.addOutput("y", shape: [2])
        assertONNXError(["adder", "ghost"]) { _ = try ONNXModel(data: undefined.serialized()) }

        var cyclic = ONNXModelBuilder()
        try cyclic.addInput("x", shape: [2])
        try cyclic.addNode("Add", inputs: ["x", "b"], outputs: ["a"], name: "first")
        try cyclic.addNode("Relu", inputs: ["a"], outputs: ["b"], name: "second")
        cyclic.addOutput("a", shape: [2])
        assertONNXError(["cycle", "first", "second"]) { _ = try ONNXModel(data: cyclic.serialized()) }
    }

    func testNodesOutOfOrderAreSorted() throws {
        var model = ONNXModelBuilder().model()
        var graph = GraphProto()
        var relu = NodeProto()
        (relu.opType, relu.input, relu.output) = ("Relu", ["a"], ["y"])
        var negate = NodeProto()
        (negate.opType, negate.input, negate.output) = ("Sub", ["zero", "x"], ["a"])
        graph.node = [relu, negate]
        var zero = TensorProto()
        (zero.name, zero.dataType, zero.floatData) = ("zero", 1, [0])
        graph.initializer = [zero]
        var builder = ONNXModelBuilder()
        try builder.addInput("x", shape: [3])
        builder.addOutput("y", shape: [3])
        graph.input = builder.model().graph?.input ?? []
        graph.output = builder.model().graph?.output ?? []
        model.graph = graph
        let loaded = try ONNXModel(data: model.serializedData())
        let y = try loaded.run(Tensor(shape: [3], floats: [1, -2, 3]))
        XCTAssertEqual(y.floats, [0, 2, 0])
    }

    func testUnsupportedDataTypesAreRefused() throws {
        var builder = ONNXModelBuilder()
        try builder.addInput("x", shape: [2])
        builder.addOutput("x", shape: [2])
        var model = builder.model()
        var tensor = TensorProto()
        (tensor.name, tensor.dataType, tensor.dims, tensor.rawData) = ("half", 10, [2], [0, 0, 0, 0])
        model.graph?.initializer.append(tensor)
        assertONNXError(["unsupported ONNX data type 10 (FLOAT16)", "initializer 'half'"]) {
            _ = try ONNXModel(data: model.serializedData())
        }
    }

    func testRunChecksInputsAgainstTheDeclaredShapes() throws {
        var builder = ONNXModelBuilder()
        try builder.addInput("beats", shape: ["N", 1, 4])
        try builder.addInput("rr", shape: ["N", 2])
        try builder.addNode("Flatten", inputs: ["beats"], outputs: ["f"])
        try builder.addNode("Concat", inputs: ["f", "rr"], outputs: ["y"], attributes: [.int("axis", 1)])
        builder.addOutput("y", shape: ["N", 6])
        let model = try ONNXModel(data: builder.serialized())
        let beats = Tensor(shape: [2, 1, 4], floats: [Float](repeating: 0, count: 8))
        let rr = Tensor(shape: [2, 2], floats: [1, 2, 3, 4])
        XCTAssertEqual(try model.run(inputs: ["beats": beats, "rr": rr])["y"]?.shape, [2, 6])
        assertONNXError(["input 'rr'", "missing"]) { _ = try model.run(inputs: ["beats": beats]) }
        assertONNXError(["input 'beats'", "expected rank 3", "got shape [2, 4]"]) {
            _ = try model.run(inputs: [
                "beats": Tensor(shape: [2, 4], floats: [Float](repeating: 0, count: 8)), "rr": rr,
            ])
        }
        assertONNXError(["input 'rr'", "dimension N is 3 here but 2"]) {
            _ = try model.run(inputs: [
                "beats": beats, "rr": Tensor(shape: [3, 2], floats: [Float](repeating: 0, count: 6)),
            ])
        }
        assertONNXError(["input 'rr'", "expected float32, got int64"]) {
            _ = try model.run(inputs: ["beats": beats, "rr": Tensor(shape: [2, 2], int64s: [1, 2, 3, 4])])
        }
    }

    func testADeclaredOutputShapeMustMatchTheGraph() throws {
        var builder = ONNXModelBuilder()
        try builder.addInput("x", shape: ["N", 4])
        try builder.addNode("Relu", inputs: ["x"], outputs: ["y"])
        builder.addOutput("y", shape: ["N", 5])
        assertONNXError(["graph output 'y'", "declared"]) { _ = try ONNXModel(data: builder.serialized()) }
    }

    // MARK: Resource limits (issue 20): sizes a file declares are checked before anything is allocated for them.

    /// A model whose initializer `name` declares `dims` and carries `rawData`, written to a file.
    private func modelFile(initializer name: String, dims: [Int64], rawData: [UInt8]) throws -> URL {
        var builder = ONNXModelBuilder()
        try builder.addInput("x", shape: [2])
        try builder.addNode("Add", inputs: ["x", name], outputs: ["y"])
        builder.addOutput("y", shape: [2])
        var model = builder.model()
        var tensor = TensorProto()
        (tensor.name, tensor.dataType, tensor.dims, tensor.rawData) = (name, 1, dims, rawData)
        model.graph?.initializer = [tensor]
        let directory = try makeTemporaryDirectory()
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("crafted.onnx")
        try model.serializedData().write(to: file)
        return file
    }

    func testATensorDeclaringATrillionElementsIsRefusedNamingTheFileAndTheTensor() throws {
        let file = try modelFile(initializer: "huge", dims: [1_000_000, 1_000_000], rawData: [0, 0, 0, 0])
        assertONNXError([
            "\(file.path): invalid ONNX model: initializer 'huge' declares dims [1000000, 1000000], "
                + "more than the 268435456 elements a tensor may have"
        ]) { _ = try ONNXModel(contentsOf: file) }
        let overflowing = try modelFile(initializer: "w", dims: [Int64.max, Int64.max, 2], rawData: [0])
        assertONNXError(["initializer 'w' declares dims"]) { _ = try ONNXModel(contentsOf: overflowing) }
    }

    func testATensorLargerThanItsDataIsRefusedBeforeItsMemoryIsTaken() throws {
        // 268 million floats (1.07 GB) declared, 4 bytes present: refused without allocating the gigabyte.
        let file = try modelFile(initializer: "w", dims: [268_000_000], rawData: [0, 0, 0, 0])
        let before = maximumResidentBytes()
        assertONNXError(["initializer 'w': dims [268000000] need 1072000000 bytes", "raw_data has 4"]) {
            _ = try ONNXModel(contentsOf: file)
        }
        XCTAssertLessThan(maximumResidentBytes() - before, 100_000_000, "the declared size was never allocated")
    }

    func testAGraphInputDeclaringTooManyElementsIsRefusedByName() throws {
        var builder = ONNXModelBuilder()
        try builder.addInput("beats", shape: [2_147_483_647, 2_147_483_647, 2_147_483_647])
        try builder.addNode("Relu", inputs: ["beats"], outputs: ["y"])
        builder.addOutput("y", shape: [2_147_483_647, 2_147_483_647, 2_147_483_647])
        assertONNXError(["graph input 'beats'", "more than 268435456 elements"]) {
            _ = try ONNXModel(data: builder.serialized())
        }
    }

    private func maximumResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}
