import Foundation
import XCTest

@testable import NeuralNet

final class CheckpointTests: XCTestCase {
    private let specs: [LayerSpec] = [
        .conv1d(outChannels: 4, kernel: 5, stride: 1, padding: 2), .batchNorm1d, .relu,
        .maxPool1d(kernel: 2, stride: 2), .flatten, .concatFeatures, .linear(outFeatures: 8), .relu,
        .dropout(probability: 0.2), .linear(outFeatures: 3),
    ]

    private func trainedModel() throws -> Model {
        let model = try Model(
            specs: specs, inputLength: 24, featureCount: 2, classCount: 3, seed: 5,
            optimizer: OptimizerConfig(kind: .adamW, learningRate: 3e-3, weightDecay: 0.01))
        try train(
            model, on: SyntheticBeats(count: 12, length: 24, featureCount: 2, classCount: 3, seed: 1),
            epochs: 1, batchSize: 4)
        return model
    }

    private func writtenCheckpoint() throws -> (URL, Checkpoint) {
        let url = try temporaryDirectory(self).appendingPathComponent("model.ckpt")
        let checkpoint = try trainedModel().checkpoint(
            classNames: ["N", "S", "V"], metadata: ["lead": "MLII", "normalisation": "minmax"], epoch: 1,
            trainingState: [1, 2, 3])
        try checkpoint.write(to: url)
        return (url, checkpoint)
    }

    func testRoundTripRestoresEveryField() throws {
        let (url, checkpoint) = try writtenCheckpoint()
        let read = try Checkpoint.read(from: url)
        XCTAssertEqual(read, checkpoint)
        XCTAssertEqual(read.metadata["lead"], "MLII")
        XCTAssertEqual(read.trainingState, [1, 2, 3])
        let restored = try Model(checkpoint: read, file: url.path)
        XCTAssertEqual(bits(restored.parameters), bits(checkpoint.parameters))
        XCTAssertEqual(restored.random, RandomGenerator(state: checkpoint.randomState))
        XCTAssertEqual(restored.optimizer, checkpoint.optimizer)
        XCTAssertEqual(restored.optimizerStep, 3)
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path), ["model.ckpt"])
    }

    func testTruncatedFileThrowsTruncated() throws {
        let (url, _) = try writtenCheckpoint()
        let bytes = try [UInt8](Data(contentsOf: url))
        for length in [0, 5, 12, 40, bytes.count / 2, bytes.count - 1] {
            XCTAssertThrowsError(try Checkpoint.decode(Array(bytes.prefix(length)), file: url.path)) { error in
                guard case CheckpointError.truncated(let file, _) = error else { return XCTFail("\(length): \(error)") }
                XCTAssertEqual(file, url.path)
            }
        }
    }

    func testWrongMagicNewerVersionAndDamageAreNamed() throws {
        let (url, _) = try writtenCheckpoint()
        let bytes = try [UInt8](Data(contentsOf: url))
        var magic = bytes
        magic[0] = UInt8(ascii: "X")
        XCTAssertThrowsError(try Checkpoint.decode(magic, file: "a.ckpt")) { error in
            XCTAssertEqual(error as? CheckpointError, .wrongMagic(file: "a.ckpt"))
        }
        // A newer version is one whose checksum holds; a version field that changed alone is damage.
        var version = bytes
        version[8] = 2
        let checksum = crc32(version[0..<(version.count - 4)])
        for index in 0..<4 { version[version.count - 4 + index] = UInt8(truncatingIfNeeded: checksum >> (8 * index)) }
        XCTAssertThrowsError(try Checkpoint.decode(version, file: "b.ckpt")) { error in
            XCTAssertEqual(error as? CheckpointError, .newerVersion(file: "b.ckpt", found: 2, supported: 1))
            XCTAssertTrue("\(error)".contains("b.ckpt"))
        }
        var flipped = bytes
        flipped[bytes.count - 100] ^= 0x40  // inside the training state / Adam moments
        XCTAssertThrowsError(try Checkpoint.decode(flipped, file: "c.ckpt")) { error in
            XCTAssertEqual(error as? CheckpointError, .checksumMismatch(file: "c.ckpt"))
        }
    }

    func testItem10_AFlippedByteInTheVersionIsCorruptionNotANewerVersion() throws {
        let (_, checkpoint) = try writtenCheckpoint()
        var damaged = checkpoint.encoded()
        damaged[10] ^= 0xFF  // version 1 becomes 16711681
        XCTAssertThrowsError(try Checkpoint.decode(damaged, file: "f.ckpt")) { error in
            XCTAssertEqual(error as? CheckpointError, .checksumMismatch(file: "f.ckpt"))
            XCTAssertEqual("\(error)", "f.ckpt: checkpoint checksum mismatch; the file is corrupt")
        }
    }

    func testEveryCorruptionThrowsInsteadOfCrashing() throws {
        let (_, checkpoint) = try writtenCheckpoint()
        let bytes = checkpoint.encoded()
        var random = RandomGenerator(seed: 77)
        for _ in 0..<200 {
            var damaged = bytes
            let position = random.nextInt(below: min(bytes.count, 400))  // the header and counts
            damaged[position] = UInt8(truncatingIfNeeded: random.next())
            if damaged == bytes { continue }
            XCTAssertThrowsError(try Checkpoint.decode(damaged, file: "d.ckpt"))
        }
    }

    func testSizesThatDisagreeWithTheArchitectureAreRefused() throws {
        let (_, checkpoint) = try writtenCheckpoint()
        var short = checkpoint
        short.parameters.removeLast()
        XCTAssertThrowsError(try Checkpoint.decode(short.encoded(), file: "e.ckpt")) { error in
            XCTAssertEqual(
                error as? CheckpointError,
                .sizeMismatch(
                    file: "e.ckpt", what: "parameters", expected: checkpoint.parameters.count,
                    found: checkpoint.parameters.count - 1))
        }
        var wrongClasses = checkpoint
        wrongClasses.classNames = ["N", "S"]
        XCTAssertThrowsError(try Model(checkpoint: wrongClasses, file: "f.ckpt")) { error in
            guard case CheckpointError.invalidContent("f.ckpt", "architecture", _) = error else {
                return XCTFail("\(error)")
            }
        }
    }

    func testMissingFileIsUnreadable() {
        XCTAssertThrowsError(try Checkpoint.read(from: URL(fileURLWithPath: "/nonexistent/x.ckpt"))) { error in
            guard case CheckpointError.unreadable("/nonexistent/x.ckpt", _) = error else { return XCTFail("\(error)") }
        }
    }
}
