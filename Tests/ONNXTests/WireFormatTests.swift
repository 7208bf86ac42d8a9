import Foundation
import XCTest

@testable import ONNX

final class WireFormatTests: XCTestCase {
    private func sampleModel() throws -> ModelProto {
        var builder = ONNXModelBuilder(graphName: "sample")
        builder.producerVersion = "1.0"
        builder.docString = "a doc string"
        try builder.addInput("x", shape: ["N", 3])
        try builder.addInitializer("w", dims: [3, 2], floats: [1, -2, 3.5, 0, -0.25, 1e-7])
        try builder.addInitializer("shape", dims: [2], int64s: [-1, Int64.max])
        try builder.addNode(
            "Gemm", inputs: ["x", "w"], outputs: ["y"],
            attributes: [
                .float("alpha", 0), .int("transA", 0), .string("note", "ü"), .floats("fs", [1, 2]),
                .ints("is", [-1, 300]), .strings("ss", ["a", ""]), .tensor("t", TensorProto()),
            ])
        builder.addOutput("y", shape: ["N", 2])
        builder.setMetadata("classes", "N,S,V,F,Q")
        builder.setMetadata("window", "187")
        return builder.model()
    }

    func testModelRoundTripsThroughBytes() throws {
        let model = try sampleModel()
        let decoded = try ModelProto(serializedData: model.serializedData())
        XCTAssertEqual(decoded, model)
        XCTAssertEqual(decoded.irVersion, 8)
        XCTAssertEqual(decoded.opsetImport, [OperatorSetIdProto(domain: "", version: 17)])
        XCTAssertEqual(decoded.graph?.input.first?.type?.tensorType?.shape?.dim, [.param("N"), .value(3)])
        XCTAssertEqual(decoded.metadataProps.map(\.key), ["classes", "window"])
    }

    /// The encoder's bytes are pinned: a model this library writes, and the PyTorch fixture read and written again,
    /// hash to the values the hand-written encoders gave (FNV-1a, 64 bits, with the byte count), so a change to how
    /// messages are coded cannot move a byte unnoticed.
    func testEncodingIsPinnedByteForByte() throws {
        let sample = try sampleModel().encodedBytes()
        let fixture = try ModelProto(
            serializedData: Data(contentsOf: fixturesDirectory.appendingPathComponent("original_torch.onnx"))
        ).encodedBytes()
        XCTAssertEqual("\(sample.count) \(fnv1a64(sample))", "333 ba41ffa7690a1de")
        XCTAssertEqual("\(fixture.count) \(fnv1a64(fixture))", "1554417 d67adff5c7125dba")
    }

    private func fnv1a64(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return String(hash, radix: 16)
    }

    func testVarintsRoundTripAtTheirBoundaries() throws {
        for value: Int64 in [0, 1, 127, 128, 16_383, 16_384, Int64(Int32.max), -1, Int64.min, Int64.max] {
            var tensor = TensorProto()
            tensor.dims = [value]
            tensor.dataType = -5
            let decoded = try TensorProto(decoding: tensor.encodedBytes())
            XCTAssertEqual(decoded.dims, [value])
            XCTAssertEqual(decoded.dataType, -5)
        }
    }

    func testPackedAndUnpackedRepeatedScalarsBothDecode() throws {
        var unpacked = ProtoWriter()
        for dim: Int64 in [2, 3] { unpacked.writeInt64(1, dim) }  // dims, one tag each
        unpacked.writeFloat(4, 1.5)  // float_data, unpacked fixed32
        unpacked.writeFloat(4, -2)
        unpacked.writeInt64(7, 9)  // int64_data, unpacked
        var packed = ProtoWriter()
        packed.writePackedInt64s(1, [2, 3])
        packed.writePackedFloats(4, [1.5, -2])
        packed.writePackedInt64s(7, [9])
        for bytes in [unpacked.bytes, packed.bytes] {
            let tensor = try TensorProto(decoding: bytes)
            XCTAssertEqual(tensor.dims, [2, 3])
            XCTAssertEqual(tensor.floatData, [1.5, -2])
            XCTAssertEqual(tensor.int64Data, [9])
        }
        // Mixed: a packed run followed by an unpacked element appends.
        var mixed = ProtoWriter()
        mixed.writePackedInt64s(1, [2])
        mixed.writeInt64(1, 3)
        XCTAssertEqual(try TensorProto(decoding: mixed.bytes).dims, [2, 3])
    }

    func testUnknownFieldsOfEveryWireTypeAreSkipped() throws {
        var writer = ProtoWriter()
        writer.writeString(1, "x")
        writer.writeInt64(90, 12_345)  // varint
        writer.writeTag(91, .fixed64)
        for _ in 0..<8 { writer.writeVarint(0x11) }
        writer.writeTag(92, .fixed32)
        for _ in 0..<4 { writer.writeVarint(0x22) }
        writer.writeBytes(93, [1, 2, 3])  // length-delimited
        writer.writeTag(94, .startGroup)  // a group holding a nested group and a varint
        writer.writeTag(95, .startGroup)
        writer.writeInt64(1, 7)
        writer.writeTag(95, .endGroup)
        writer.writeInt64(2, 8)
        writer.writeTag(94, .endGroup)
        writer.writeString(3, "doc")
        let info = try ValueInfoProto(decoding: writer.bytes)
        XCTAssertEqual(info.name, "x")
        XCTAssertEqual(info.docString, "doc")
    }

    func testMalformedBytesThrowTypedErrors() {
        let cases: [(String, [UInt8])] = [
            ("truncated varint", [0x28, 0x80]),  // unknown field 5, skipped as a varint
            ("varint overflows 64 bits", [0x28] + [UInt8](repeating: 0xFF, count: 10) + [0x01]),
            ("invalid wire type", [0x0E]),
            ("invalid field number", [0x00, 0x01]),
            ("runs past the end", [0x0A, 0x05, 0x41]),
            ("not valid UTF-8", [0x0A, 0x02, 0xC3, 0x28]),
            ("wire type", [0x0D, 0, 0, 0, 0]),  // name (field 1) sent as fixed32
            ("group for field 9 is not closed", [0x4B, 0x08, 0x01]),
            ("closed by end-group", [0x4B, 0x54]),
            ("unexpected end-group", [0x4C]),
            ("truncated fixed32", [0x25, 0x00]),
        ]
        for (fragment, bytes) in cases {
            assertONNXError(["malformed ONNX protobuf", fragment]) { _ = try ValueInfoProto(decoding: bytes) }
        }
    }

    func testDeeplyNestedGroupsAreRejectedWithoutRecursingFurther() {
        // Field 9 is unknown to ModelProto; each start-group opens one more level to skip.
        let depth = ProtoReader.maximumDepth + 5
        let bytes = [UInt8](repeating: 0x4B, count: depth) + [UInt8](repeating: 0x4C, count: depth)
        assertONNXError(["nested deeper"]) { _ = try ModelProto(decoding: bytes) }
    }

    func testPackedFloatsMustBeWholeFloats() {
        var writer = ProtoWriter()
        writer.writeBytes(4, [0, 0, 0x80, 0x3F, 0])
        assertONNXError(["not a multiple of 4"]) { _ = try TensorProto(decoding: writer.bytes) }
    }

    /// Random truncations, bit flips, insertions and deletions of a valid model must decode or throw, never crash;
    /// what decodes must also load or throw.
    func testRandomMutationsOfAValidModelNeverCrash() throws {
        var builder = ONNXModelBuilder(graphName: "fuzz")
        try builder.addInput("x", shape: ["N", 1, 8])
        try builder.addInitializer("w", dims: [2, 1, 3], floats: [1, 2, 3, 4, 5, 6])
        try builder.addInitializer("shape", dims: [2], int64s: [0, -1])
        try builder.addNode("Conv", inputs: ["x", "w"], outputs: ["c"], attributes: [.ints("pads", [1, 1])])
        try builder.addNode("Relu", inputs: ["c"], outputs: ["r"])
        try builder.addNode("Reshape", inputs: ["r", "shape"], outputs: ["y"])
        builder.addOutput("y", shape: ["N", 16])
        let original = [UInt8](builder.serialized())
        XCTAssertNoThrow(try ONNXModel(data: Data(original)))

        var generator = SeededGenerator(seed: 7)
        var decoded = 0
        var loaded = 0
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let position = Int.random(in: 0..<max(bytes.count, 1), using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: bytes = Array(bytes.prefix(position))
                case 1 where !bytes.isEmpty: bytes[position] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
                case 2: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: min(position, bytes.count))
                default: if !bytes.isEmpty { bytes.remove(at: position) }
                }
            }
            guard (try? ModelProto(serializedData: Data(bytes))) != nil else { continue }
            decoded += 1
            if let model = try? ONNXModel(data: Data(bytes)) {
                loaded += 1
                _ = try? model.run(inputs: ["x": Tensor(shape: [2, 1, 8], floats: [Float](repeating: 1, count: 16))])
            }
        }
        XCTAssertGreaterThan(decoded, 0)
        XCTAssertGreaterThan(loaded, 0)
    }

    func testGarbageBytesThrow() {
        var generator = SeededGenerator(seed: 11)
        var threw = 0
        for length in 1...400 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            do {
                _ = try ONNXModel(data: Data(bytes))
            } catch {
                threw += 1
            }
        }
        XCTAssertEqual(threw, 400, "random bytes never make a valid model")
    }
}
