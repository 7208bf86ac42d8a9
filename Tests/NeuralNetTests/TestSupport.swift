import Foundation
import XCTest

@testable import NeuralNet

/// Asserts |actual - expected| <= tolerance · max(1, |expected|) element-wise, naming the first offender.
func assertClose(
    _ actual: [Float], _ expected: [Float], tolerance: Float, _ label: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.count, expected.count, "\(label): count", file: file, line: line)
    for (i, (a, e)) in zip(actual, expected).enumerated() where abs(a - e) > tolerance * max(1, abs(e)) {
        XCTFail("\(label)[\(i)]: got \(a), expected \(e) (tolerance \(tolerance))", file: file, line: line)
        return
    }
}

/// Bit patterns, so equality means bit-identical (and NaN compares equal to itself).
func bits(_ values: [Float]) -> [UInt32] {
    values.map(\.bitPattern)
}

/// A small labelled data set of noisy sinusoids: class c oscillates at c + 1 cycles per window, and its two extra
/// features are a class-dependent offset plus noise, so both paths carry signal.
struct SyntheticBeats {
    let count: Int
    let length: Int
    let featureCount: Int
    let classCount: Int
    var windows: [Float] = []
    var features: [Float] = []
    var labels: [Int] = []

    init(count: Int, length: Int, featureCount: Int, classCount: Int, seed: UInt64) {
        self.count = count
        self.length = length
        self.featureCount = featureCount
        self.classCount = classCount
        var random = RandomGenerator(seed: seed)
        for i in 0..<count {
            let label = i % classCount
            labels.append(label)
            let phase = random.uniform(0, 2 * Float.pi)
            for t in 0..<length {
                let angle = Float(label + 1) * 2 * Float.pi * Float(t) / Float(length) + phase
                windows.append(0.5 + 0.4 * sin(angle) + random.uniform(-0.1, 0.1))
            }
            for _ in 0..<featureCount {
                features.append(Float(label) * 0.5 + random.uniform(-0.2, 0.2))
            }
        }
    }

    /// Samples `indices` as one batch.
    func batch(_ indices: ArraySlice<Int>) -> (windows: [Float], features: [Float], labels: [Int]) {
        var windows: [Float] = []
        var features: [Float] = []
        var labels: [Int] = []
        windows.reserveCapacity(indices.count * length)
        for i in indices {
            windows += self.windows[(i * length)..<((i + 1) * length)]
            features += self.features[(i * featureCount)..<((i + 1) * featureCount)]
            labels.append(self.labels[i])
        }
        return (windows, features, labels)
    }
}

/// Where a training loop stands: the epoch, that epoch's sample order and the next batch's start. This is what the
/// tests store as a checkpoint's training-state blob (u32 little-endian words: epoch, cursor, count, order…).
struct LoopState: Equatable {
    var epoch: Int
    var order: [Int]
    var cursor: Int

    var encoded: [UInt8] {
        ([epoch, cursor, order.count] + order).flatMap { value -> [UInt8] in
            withUnsafeBytes(of: UInt32(value).littleEndian) { Array($0) }
        }
    }

    init(epoch: Int, order: [Int], cursor: Int) {
        self.epoch = epoch
        self.order = order
        self.cursor = cursor
    }

    init?(encoded bytes: [UInt8]) {
        guard bytes.count >= 12, bytes.count % 4 == 0 else { return nil }
        let words = stride(from: 0, to: bytes.count, by: 4).map { start -> Int in
            Int(bytes[start..<(start + 4)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        }
        guard words.count == 3 + words[2] else { return nil }
        self.init(epoch: words[0], order: Array(words[3...]), cursor: words[1])
    }
}

/// Trains with a shuffle per epoch drawn from the model's own generator, starting at `state` (or the first epoch),
/// until `epochs` epochs are done or `maxSteps` steps were taken. Returns where it stopped.
@discardableResult
func train(
    _ model: Model, on data: SyntheticBeats, epochs: Int, batchSize: Int, from state: LoopState? = nil,
    maxSteps: Int = .max
) throws -> LoopState {
    var state = state ?? LoopState(epoch: 0, order: [], cursor: 0)
    var steps = 0
    while state.epoch < epochs {
        if state.cursor == 0 {
            state.order = Array(0..<data.count)
            model.random.shuffle(&state.order)
        }
        while state.cursor < data.count {
            if steps == maxSteps { return state }
            let end = min(state.cursor + batchSize, data.count)
            let batch = data.batch(state.order[state.cursor..<end])
            try model.trainStep(
                windows: batch.windows, features: batch.features, labels: batch.labels, batch: end - state.cursor,
                epoch: state.epoch)
            state.cursor = end
            steps += 1
        }
        state.epoch += 1
        state.cursor = 0
    }
    return state
}

/// A fresh temporary directory, removed when the test ends.
func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("NeuralNetTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock {
        try? FileManager.default.removeItem(at: url)
    }
    return url
}
