import XCTest

@testable import WFDB

/// Records written by `RecordWriter` in every format and layout read back exactly.
final class SignalRoundTripTests: XCTestCase {
    /// Writes signals with the given specs and `frames` frames, reads them back, and compares.
    @discardableResult
    private func roundTrip(
        _ specs: [SignalSpec], frames: Int, seed: UInt64, file: StaticString = #filePath, line: UInt = #line
    ) throws -> (WFDBRecord, [[Int32]]) {
        let directory = try TemporaryDirectory()
        var generator = SampleGenerator(seed: seed)
        let samples = specs.map { spec -> [Int32] in
            let count = frames * spec.samplesPerFrame
            if spec.format == .diff8 { return generator.signal(count: count, range: -3000...3000, step: 127) }
            var values = generator.signal(count: count, range: spec.format.valueRange)
            if let marker = spec.format.invalidValue, count > 5 { values[count / 2] = marker }
            return values
        }
        let header = RecordHeader(name: "rt", signals: specs, samplingFrequency: 500, sampleCount: frames)
        try RecordWriter.write(header, samples: samples, directory: directory.path)
        let record = try WFDBRecord.open(directory.file("rt"))
        XCTAssertEqual(record.frameCount, frames, file: file, line: line)
        let block = try record.read()
        XCTAssertEqual(block.channels.count, specs.count, file: file, line: line)
        for (index, channel) in block.channels.enumerated() {
            XCTAssertEqual(channel.digital, samples[index], "signal \(index)", file: file, line: line)
            XCTAssertEqual(channel.checksum, .ok, "signal \(index)", file: file, line: line)
            let expectedInvalid = samples[index].filter { $0 == specs[index].format.invalidValue }.count
            XCTAssertEqual(channel.invalidCount, expectedInvalid, file: file, line: line)
            XCTAssertEqual(channel.physical().filter(\.isNaN).count, expectedInvalid, file: file, line: line)
        }
        // Each signal alone (for two 212 signals, a decoder of its own) reads what the whole block holds.
        for index in specs.indices where specs.count > 1 {
            let alone = try record.read(signals: [index])
            XCTAssertEqual(
                alone.channels.first?.digital, samples[index], "signal \(index) alone", file: file, line: line)
            XCTAssertEqual(alone.channels.first?.checksum, .ok, file: file, line: line)
        }
        // A range in the middle reads the same values as the whole record, without the rest.
        if frames > 10 {
            let range = (frames / 3)..<(frames / 3 + frames / 4)
            let part = try record.read(frames: range, signals: Array(specs.indices.reversed()))
            for channel in part.channels {
                let spf = specs[channel.signalIndex].samplesPerFrame
                let expected = Array(samples[channel.signalIndex][(range.lowerBound * spf)..<(range.upperBound * spf)])
                XCTAssertEqual(
                    channel.digital, expected, "range of signal \(channel.signalIndex)", file: file, line: line)
                XCTAssertEqual(channel.checksum, .notChecked, file: file, line: line)
            }
        }
        return (record, samples)
    }

    private func specs(_ format: SignalFormat, count: Int, file: String = "rt.dat") -> [SignalSpec] {
        (0..<count).map { SignalSpec(fileName: file, format: format, gain: 100 + Double($0), description: "s\($0)") }
    }

    func testEveryFormatWithSharedFileRoundTrips() throws {
        for format in SignalFormat.allCases where format != .null {
            for signals in 1...3 {
                // Odd frame counts leave partial packing units at the end of 212/310/311 files.
                try roundTrip(specs(format, count: signals), frames: 1001, seed: UInt64(format.rawValue * 10 + signals))
            }
        }
    }

    func testSeparateFilesPerSignal() throws {
        let specs = [
            SignalSpec(fileName: "a.dat", format: .int16, description: "A"),
            SignalSpec(fileName: "b.dat", format: .packed212, description: "B"),
            SignalSpec(fileName: "c.dat", format: .diff8, description: "C"),
        ]
        try roundTrip(specs, frames: 777, seed: 7)
    }

    func testSamplesPerFrameVariants() throws {
        for format in SignalFormat.allCases where format != .null {
            var specs = specs(format, count: 3)
            specs[0].samplesPerFrame = 4
            specs[2].samplesPerFrame = 3
            try roundTrip(specs, frames: 301, seed: UInt64(format.rawValue))
        }
    }

    func testSkewVariants() throws {
        for format in SignalFormat.allCases where format != .null {
            var specs = specs(format, count: 3)
            specs[1].skew = 3
            specs[2].skew = 1
            let (record, _) = try roundTrip(specs, frames: 500, seed: UInt64(format.rawValue + 1))
            XCTAssertEqual(record.signals.map(\.skew), [0, 3, 1])
        }
    }

    func testByteOffsetVariants() throws {
        for format in SignalFormat.allCases where format != .null {
            var specs = specs(format, count: 2)
            for index in specs.indices { specs[index].byteOffset = 37 }
            let (record, _) = try roundTrip(specs, frames: 250, seed: UInt64(format.rawValue + 2))
            XCTAssertEqual(record.signals[0].byteOffset, 37)
        }
    }

    func testSamplesPerFrameSkewAndOffsetTogether() throws {
        for format in [SignalFormat.packed212, .packed310, .packed311, .int16, .diff8] {
            var specs = specs(format, count: 3)
            specs[0].samplesPerFrame = 2
            specs[1].skew = 2
            for index in specs.indices { specs[index].byteOffset = 512 }
            try roundTrip(specs, frames: 401, seed: UInt64(format.rawValue + 3))
        }
    }

    func testMissingSampleCountIsDerivedFromFileSize() throws {
        let directory = try TemporaryDirectory()
        var generator = SampleGenerator(seed: 11)
        let samples = [
            generator.signal(count: 99, range: -2048...2047), generator.signal(count: 99, range: -2048...2047),
        ]
        let header = RecordHeader(name: "n", signals: specs(.packed212, count: 2, file: "n.dat"), sampleCount: 99)
        try RecordWriter.write(header, samples: samples, directory: directory.path)
        try directory.write("n.hea", "n 2 360\nn.dat 212 200 12 0\nn.dat 212 200 12 0\n")
        let record = try WFDBRecord.open(directory.file("n"))
        XCTAssertEqual(record.frameCount, 99)
        XCTAssertEqual(try record.read().channels.map(\.digital), samples)
    }

    func testFixedLayoutMultiSegmentWithNullSegment() throws {
        let directory = try TemporaryDirectory()
        var generator = SampleGenerator(seed: 5)
        let first = [
            generator.signal(count: 120, range: -2048...2047), generator.signal(count: 120, range: -2048...2047),
        ]
        let second = [
            generator.signal(count: 80, range: -2048...2047), generator.signal(count: 80, range: -2048...2047),
        ]
        try RecordWriter.write(
            RecordHeader(name: "seg1", signals: specs(.packed212, count: 2, file: "seg1.dat"), sampleCount: 120),
            samples: first, directory: directory.path)
        try RecordWriter.write(
            RecordHeader(name: "seg2", signals: specs(.packed212, count: 2, file: "seg2.dat"), sampleCount: 80),
            samples: second, directory: directory.path)
        try RecordWriter.writeMultiSegmentHeader(
            name: "multi", signalCount: 2, samplingFrequency: 250,
            segments: [
                SegmentSpec(name: "seg1", sampleCount: 120), SegmentSpec(name: "~", sampleCount: 50),
                SegmentSpec(name: "seg2", sampleCount: 80),
            ],
            directory: directory.path)
        let record = try WFDBRecord.open(directory.file("multi"))
        XCTAssertTrue(record.isMultiSegment)
        XCTAssertEqual(record.frameCount, 250)
        let block = try record.read()
        let gap = [Int32](repeating: -2048, count: 50)
        for signal in 0..<2 {
            XCTAssertEqual(block.channels[signal].digital, first[signal] + gap + second[signal])
            let markedInData = (first[signal] + second[signal]).filter { $0 == -2048 }.count
            XCTAssertEqual(block.channels[signal].invalidCount, 50 + markedInData)
            // Both segments with data were read whole and verified; the null segment has no checksum.
            XCTAssertEqual(block.channels[signal].checksum, .ok)
        }
        // Block by block, each segment with data is read whole, so its checksums are verified.
        var streamed: [[Int32]] = [[], []]
        let statuses = try record.forEachBlock(framesPerBlock: 16) { block in
            for (index, channel) in block.channels.enumerated() { streamed[index] += channel.digital }
        }
        XCTAssertEqual(statuses, [.ok, .ok])
        XCTAssertEqual(streamed, block.channels.map(\.digital))
        // A range across the null segment.
        let part = try record.read(frames: 110..<180, signals: [1])
        XCTAssertEqual(part.channels[0].digital, Array(first[1][110...]) + gap + Array(second[1][..<10]))
    }

    func testVariableLayoutMultiSegmentMapsSignalsByName() throws {
        let directory = try TemporaryDirectory()
        var generator = SampleGenerator(seed: 9)
        let layoutSpecs = [
            SignalSpec(fileName: "~", format: .null, gain: 200, description: "II"),
            SignalSpec(fileName: "~", format: .null, gain: 200, description: "V"),
        ]
        try RecordWriter.write(
            RecordHeader(name: "layout", signals: layoutSpecs, sampleCount: 0), samples: [[], []],
            directory: directory.path)
        let one = [generator.signal(count: 60, range: -500...500), generator.signal(count: 60, range: -500...500)]
        try RecordWriter.write(
            RecordHeader(
                name: "part1",
                signals: [
                    SignalSpec(fileName: "part1.dat", format: .int16, gain: 200, description: "II"),
                    SignalSpec(fileName: "part1.dat", format: .int16, gain: 200, description: "V"),
                ], sampleCount: 60),
            samples: one, directory: directory.path)
        // Second segment: only V, at half the gain (so digital values are rescaled to the layout's).
        let two = [generator.signal(count: 40, range: -250...250)]
        try RecordWriter.write(
            RecordHeader(
                name: "part2",
                signals: [
                    SignalSpec(fileName: "part2.dat", format: .int16, gain: 100, description: "V")
                ], sampleCount: 40),
            samples: two, directory: directory.path)
        try RecordWriter.writeMultiSegmentHeader(
            name: "var", signalCount: 2, samplingFrequency: 250,
            segments: [
                SegmentSpec(name: "layout", sampleCount: 0), SegmentSpec(name: "part1", sampleCount: 60),
                SegmentSpec(name: "part2", sampleCount: 40),
            ],
            directory: directory.path)
        let record = try WFDBRecord.open(directory.file("var"))
        XCTAssertEqual(record.signals.map(\.description), ["II", "V"])
        XCTAssertEqual(record.frameCount, 100)
        let block = try record.read()
        XCTAssertEqual(block.channels[0].digital, one[0] + [Int32](repeating: Int32(Int16.min), count: 40))
        XCTAssertEqual(block.channels[1].digital, one[1] + two[0].map { $0 * 2 })
        XCTAssertEqual(block.channels[0].invalidCount, 40)
        let physical = block.channels[1].physical()
        XCTAssertEqual(physical[60], Double(two[0][0]) / 100, accuracy: 1e-12)
    }

    func testHeaderTextRoundTripsThroughTheParser() throws {
        var header = RecordHeader(
            name: "rec",
            signals: [
                SignalSpec(
                    fileName: "rec.dat", format: .packed212, samplesPerFrame: 2, skew: 1, byteOffset: 8,
                    gain: 200.5, baseline: -7, units: "uV", adcResolution: 11, adcZero: 3, initialValue: 5,
                    checksum: -123, blockSize: 0, description: "ECG lead II")
            ], samplingFrequency: 360, sampleCount: 42)
        header.counterFrequency = 720
        header.baseCounter = 10
        header.baseTime = "12:34:56.5"
        header.baseDate = "01/02/2003"
        header.comments = ["age 69"]
        var parsed = try HeaderParser.parse(text: RecordWriter.headerText(header), file: "rec.hea")
        parsed.signals[0].line = 0
        XCTAssertEqual(parsed, header)
    }
}

extension SignalRoundTripTests {
    /// Ranges starting inside a packing unit (odd frames of a one-signal 212 file, frames 1 and 2
    /// of a one-signal 310/311 file) decode only the requested samples.
    func testRangesStartingInsideAPackingUnit() throws {
        for format in [SignalFormat.packed212, .packed310, .packed311, .diff8] {
            let directory = try TemporaryDirectory()
            var generator = SampleGenerator(seed: UInt64(format.rawValue))
            let samples = [
                format == .diff8
                    ? generator.signal(count: 50, range: -500...500, step: 100)
                    : generator.signal(count: 50, range: format.valueRange)
            ]
            try RecordWriter.write(
                RecordHeader(name: "u", signals: [SignalSpec(fileName: "u.dat", format: format)], sampleCount: 50),
                samples: samples, directory: directory.path)
            let record = try WFDBRecord.open(directory.file("u"))
            for start in 0..<6 {
                for end in [start, start + 1, start + 2, 49, 50] where end >= start {
                    let block = try record.read(frames: start..<end)
                    XCTAssertEqual(
                        block.channels[0].digital, Array(samples[0][start..<end]), "\(format) \(start)..<\(end)")
                }
            }
        }
    }
}
