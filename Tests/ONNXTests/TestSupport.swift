import Foundation
import XCTest

@testable import ONNX

/// A deterministic generator (SplitMix64) so that weights and mutations are the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func floats(_ count: Int, in range: ClosedRange<Float> = -1...1) -> [Float] {
        (0..<count).map { _ in Float.random(in: range, using: &self) }
    }
}

/// Builds a one-node model: the node reads the graph inputs and initializers and writes `outputs`.
func singleNodeModel(
    _ opType: String, inputs: [(String, Tensor)], initializers: [(String, Tensor)] = [], nodeInputs: [String]? = nil,
    outputs: [String] = ["y"], attributes: [AttributeProto] = [], opset: Int64 = 17,
    outputElement: ElementType = .float32
) throws -> ONNXModel {
    var builder = ONNXModelBuilder(graphName: "single", opsetVersion: opset)
    for (name, tensor) in inputs {
        try builder.addInput(name, elementType: tensor.elementType, shape: tensor.shape.map { .fixed($0) })
    }
    for (name, tensor) in initializers {
        switch tensor.storage {
        case .float32(let values): try builder.addInitializer(name, dims: tensor.shape, floats: values)
        case .int64(let values): try builder.addInitializer(name, dims: tensor.shape, int64s: values)
        }
    }
    try builder.addNode(
        opType, inputs: nodeInputs ?? (inputs.map(\.0) + initializers.map(\.0)), outputs: outputs, name: "node",
        attributes: attributes)
    for output in outputs { builder.addOutput(output, elementType: outputElement, shape: []) }
    // Outputs are declared without a shape; each test checks the computed shape itself.
    var model = builder.model()
    if var graph = model.graph {
        for index in graph.output.indices { graph.output[index].type?.tensorType?.shape = nil }
        model.graph = graph
    }
    return try ONNXModel(data: model.serializedData())
}

/// Runs a one-node model and returns its single output.
func runSingleNode(
    _ opType: String, inputs: [(String, Tensor)], initializers: [(String, Tensor)] = [], nodeInputs: [String]? = nil,
    attributes: [AttributeProto] = [], opset: Int64 = 17, outputElement: ElementType = .float32
) throws -> Tensor {
    let model = try singleNodeModel(
        opType, inputs: inputs, initializers: initializers, nodeInputs: nodeInputs, attributes: attributes,
        opset: opset,
        outputElement: outputElement)
    guard let output = try model.run(inputs: Dictionary(uniqueKeysWithValues: inputs))["y"] else {
        throw ONNXError.invalidModel("no output y")
    }
    return output
}

func assertClose(
    _ actual: [Float]?, _ expected: [Float], tolerance: Float = 1e-5, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    guard let actual else {
        XCTFail("no float output \(message)", file: file, line: line)
        return
    }
    XCTAssertEqual(actual.count, expected.count, "element count \(message)", file: file, line: line)
    var worst: Float = 0
    var worstIndex = 0
    for (index, (a, e)) in zip(actual, expected).enumerated() where abs(a - e) > worst {
        worst = abs(a - e)
        worstIndex = index
    }
    XCTAssertLessThanOrEqual(
        worst, tolerance,
        "largest difference \(worst) at \(worstIndex): \(actual[worstIndex]) vs \(expected[worstIndex]) \(message)",
        file: file, line: line)
}

/// Asserts that `body` throws an `ONNXError` whose description contains every fragment.
func assertONNXError(
    _ fragments: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void
) {
    do {
        try body()
        XCTFail("expected an error mentioning \(fragments)", file: file, line: line)
    } catch let error as ONNXError {
        for fragment in fragments {
            XCTAssertTrue(
                error.description.contains(fragment), "'\(error.description)' does not mention '\(fragment)'",
                file: file, line: line)
        }
    } catch {
        XCTFail("unexpected error type \(error)", file: file, line: line)
    }
}

let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
    "Fixtures")

func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
