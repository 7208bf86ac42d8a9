import XCTest

@testable import WFDB

/// The bad-input catalogue: every malformed file gives a typed `WFDBError` naming the file (and the
/// header line where there is one), never a crash and never an allocation beyond the file's size.
final class BadInputTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
    }

    override func tearDown() {
        directory = nil
    }

    /// Writes `r.hea` with `header`, and `r.dat` with `datBytes` zero bytes when given.
    private func record(_ header: String, datBytes: Int? = 300) throws -> String {
        try directory.write("r.hea", header)
        if let datBytes { try directory.write("r.dat", bytes: [UInt8](repeating: 0, count: datBytes)) }
        return directory.file("r")
    }

    private func openAndRead(_ path: String) throws -> SignalBlock {
        try WFDBRecord.open(path).read()
    }

    private func headerFile() -> String { directory.file("r.hea") }
    private func datFile() -> String { directory.file("r.dat") }

    // MARK: headers

    func testEmptyHeader() throws {
        let path = try record("")
        assertWFDBError(try openAndRead(path), names: headerFile()) { $0 == .emptyHeader(file: self.headerFile()) }
    }

    func testHeaderWithOnlyComments() throws {
        let path = try record("# nothing here\r\n# at all\r\n")
        assertWFDBError(try openAndRead(path), names: headerFile()) { $0 == .emptyHeader(file: self.headerFile()) }
    }

    func testBinaryJunkAsHeader() throws {
        try directory.write("r.hea", bytes: [0x00, 0xFF, 0x13, 0x37, 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A])
        assertWFDBError(try openAndRead(directory.file("r")), names: headerFile()) {
            $0 == .notText(file: self.headerFile())
        }
    }

    func testMissingHeaderFile() {
        let path = directory.file("absent")
        assertWFDBError(try openAndRead(path), names: path + ".hea") { $0 == .fileNotFound(file: path + ".hea") }
    }

    func testHeaderNamingMissingSignalFile() throws {
        let path = try record("r 1 360 10\r\nmissing.dat 16 200 16 0 0 0 0 I\r\n")
        assertWFDBError(try openAndRead(path), names: "missing.dat", line: 2) {
            $0 == .signalFileNotFound(header: self.headerFile(), line: 2, file: "missing.dat")
        }
    }

    func testItem10_ASignalFileThatIsADirectoryIsNamedAsOne() throws {
        let path = try record("r 1 360 10\nr.dat 16\n", datBytes: nil)
        try FileManager.default.createDirectory(atPath: datFile(), withIntermediateDirectories: true)
        assertWFDBError(try openAndRead(path), names: datFile()) {
            $0 == .unreadable(file: self.datFile(), reason: "a directory, not a regular file")
        }
    }

    func testItem10_AHeaderThatIsADirectoryIsNamedAsOne() throws {
        try FileManager.default.createDirectory(atPath: headerFile(), withIntermediateDirectories: true)
        assertWFDBError(try openAndRead(directory.file("r")), names: headerFile()) {
            $0 == .unreadable(file: self.headerFile(), reason: "a directory, not a regular file")
        }
    }

    func testFewerSignalLinesThanDeclared() throws {
        let path = try record("r 3 360 10\nr.dat 16\nr.dat 16\n")
        assertWFDBError(try openAndRead(path), names: headerFile()) {
            if case .missingSignalLines(_, _, 3, 2) = $0 { return true } else { return false }
        }
    }

    func testUnknownFormat() throws {
        let path = try record("r 1 360 10\nr.dat 999 200\n")
        assertWFDBError(try openAndRead(path), names: headerFile(), line: 2) {
            $0 == .unknownFormat(file: self.headerFile(), line: 2, format: "999")
        }
    }

    func testFlacFormatIsUnsupportedByName() throws {
        let path = try record("r 1 360 10\nr.dat 516 200\n")
        assertWFDBError(try openAndRead(path), names: headerFile(), line: 2) {
            $0 == .unsupportedFormat(file: self.headerFile(), line: 2, format: 516)
        }
        XCTAssertTrue(
            WFDBError.unsupportedFormat(file: "f", line: 2, format: 516).description
                .contains("unsupported format 516"))
    }

    func testNegativeSampleCount() throws {
        let path = try record("r 1 360 -5\nr.dat 16\n")
        assertWFDBError(try openAndRead(path), names: headerFile(), line: 1) {
            $0 == .invalidSampleCount(file: self.headerFile(), line: 1, value: "-5")
        }
    }

    func testAbsurdSampleCountNeverAllocatesBeyondTheFile() throws {
        let path = try record("r 2 360 9223372036854775000\nr.dat 16\nr.dat 16\n")
        assertWFDBError(try openAndRead(path), names: datFile()) {
            if case .truncatedSignalFile(let file, _, 300) = $0 { return file == self.datFile() } else { return false }
        }
    }

    func testSampleCountBeyondIntegerRange() throws {
        let path = try record("r 1 360 99999999999999999999999\nr.dat 16\n")
        assertWFDBError(try openAndRead(path), names: headerFile(), line: 1) {
            if case .invalidField(_, 1, "number of samples", _) = $0 { return true } else { return false }
        }
    }

    func testNonNumericSignalCount() throws {
        let path = try record("r two 360 10\n")
        assertWFDBError(try openAndRead(path), names: headerFile(), line: 1) {
            if case .invalidField(_, 1, "number of signals", "two") = $0 { return true } else { return false }
        }
    }

    func testNonNumericGain() throws {
        let path = try record("# comment first\nr 1 360 10\nr.dat 16 abc/mV 16 0\n")
        assertWFDBError(try openAndRead(path), names: headerFile(), line: 3) {
            if case .invalidField(_, 3, "ADC gain", "abc") = $0 { return true } else { return false }
        }
    }

    func testNonNumericAdcZero() throws {
        let path = try record("r 1 360 10\nr.dat 16 200 16 zero\n")
        assertWFDBError(try openAndRead(path), names: headerFile(), line: 2) {
            if case .invalidField(_, 2, "ADC zero", "zero") = $0 { return true } else { return false }
        }
    }

    func testUnbalancedBaseline() throws {
        let path = try record("r 1 360 10\r\nr.dat 16 200(1024/mV 16 0\r\n")
        assertWFDBError(try openAndRead(path), names: headerFile(), line: 2) {
            if case .invalidField(_, 2, "baseline", _) = $0 { return true } else { return false }
        }
    }

    func testZeroSamplingFrequency() throws {
        let path = try record("r 1 0 10\nr.dat 16\n")
        assertWFDBError(try openAndRead(path), names: headerFile(), line: 1) {
            $0 == .invalidSamplingFrequency(file: self.headerFile(), line: 1, value: "0")
        }
    }

    func testNonNumericSamplingFrequency() throws {
        let path = try record("r 1 fast 10\nr.dat 16\n")
        assertWFDBError(try openAndRead(path), names: headerFile(), line: 1) {
            $0 == .invalidSamplingFrequency(file: self.headerFile(), line: 1, value: "fast")
        }
    }

    func testItem3_AHeaderAtATrillionHertzIsRefused() throws {
        let path = try record("r 1 1e12 10\nr.dat 16\n")
        assertWFDBError(try openAndRead(path), names: headerFile(), line: 1) {
            $0 == .invalidSamplingFrequency(file: self.headerFile(), line: 1, value: "1e12")
        }
    }

    func testItem3_AHeaderAtAMillionthOfAHertzIsRefused() throws {
        let path = try record("r 1 0.000001 10\nr.dat 16\n")
        assertWFDBError(try openAndRead(path), names: headerFile(), line: 1) {
            $0 == .invalidSamplingFrequency(file: self.headerFile(), line: 1, value: "0.000001")
        }
    }

    func testItem3_TheSamplingFrequencyMessageSaysTheRange() {
        XCTAssertEqual(
            WFDBError.invalidSamplingFrequency(file: "r.hea", line: 1, value: "1e12").description,
            "r.hea:1: invalid sampling frequency '1e12' (a header may declare 0.001 Hz to 1 MHz)")
    }

    func testItem3_MinuteByMinuteTrendsAndFastRecordingsAreStillRead() throws {
        for rate in ["0.0166667", "1", "40000", "1000000"] {
            let path = try record("r 1 \(rate) 10\nr.dat 16\n")
            XCTAssertEqual(try WFDBRecord.open(path).header.samplingFrequency, Double(rate), rate)
        }
    }

    func testZeroSamplesPerFrame() throws {
        let path = try record("r 1 360 10\nr.dat 212x0 200\n")
        assertWFDBError(try openAndRead(path), names: headerFile(), line: 2) {
            if case .invalidField(_, 2, "samples per frame", "0") = $0 { return true } else { return false }
        }
    }

    func testNegativeByteOffset() throws {
        let path = try record("r 1 360 10\nr.dat 16+-4 200\n")
        assertWFDBError(try openAndRead(path), names: headerFile(), line: 2) {
            if case .invalidField(_, 2, "byte offset", "-4") = $0 { return true } else { return false }
        }
    }

    func testTooManyRecordLineFields() throws {
        let path = try record("r 1 360 10 00:00:00 01/01/2000 extra\nr.dat 16\n")
        assertWFDBError(try openAndRead(path), names: headerFile(), line: 1) {
            if case .malformedLine(_, 1, _) = $0 { return true } else { return false }
        }
    }

    func testSignalsSharingAFileWithDifferentFormats() throws {
        let path = try record("r 2 360 10\nr.dat 16\nr.dat 212\n")
        assertWFDBError(try openAndRead(path), names: headerFile(), line: 3) {
            if case .inconsistentSignalGroup(_, 3, _) = $0 { return true } else { return false }
        }
    }

    func testSignalsSharingAFileOnNonConsecutiveLines() throws {
        try directory.write("s.dat", bytes: [0, 0])
        let path = try record("r 3 360 1\nr.dat 16\ns.dat 16\nr.dat 16\n")
        assertWFDBError(try openAndRead(path), names: headerFile(), line: 4) {
            if case .inconsistentSignalGroup(_, 4, _) = $0 { return true } else { return false }
        }
    }

    // MARK: signal files

    func testTruncatedSignalFile() throws {
        let path = try record("r 2 360 1000\nr.dat 212\nr.dat 212\n", datBytes: 1500)
        assertWFDBError(try openAndRead(path), names: datFile()) {
            $0 == .truncatedSignalFile(file: self.datFile(), neededBytes: 3000, actualBytes: 1500)
        }
    }

    func testEmptySignalFile() throws {
        let path = try record("r 1 360 10\nr.dat 16\n", datBytes: 0)
        assertWFDBError(try openAndRead(path), names: datFile()) {
            if case .truncatedSignalFile(_, _, 0) = $0 { return true } else { return false }
        }
    }

    func testByteOffsetBeyondTheFile() throws {
        let path = try record("r 1 360 10\nr.dat 16+4096\n", datBytes: 100)
        assertWFDBError(try openAndRead(path), names: datFile()) {
            if case .truncatedSignalFile(_, _, 100) = $0 { return true } else { return false }
        }
    }

    func testRangeOutsideTheRecord() throws {
        let path = try record("r 1 360 10\nr.dat 16\n", datBytes: 20)
        assertWFDBError(try WFDBRecord.open(path).read(frames: 5..<11), names: headerFile()) {
            $0 == .sampleRangeOutOfBounds(record: self.headerFile(), from: 5, to: 11, length: 10)
        }
    }

    func testUnknownSignalName() throws {
        let path = try record("r 1 360 10\nr.dat 16 200 16 0 0 0 0 MLII\n", datBytes: 20)
        assertWFDBError(try WFDBRecord.open(path).signalIndex("V5"), names: headerFile()) {
            $0 == .unknownSignal(record: self.headerFile(), signal: "V5")
        }
    }

    // MARK: multi-segment records

    func testMissingSegmentHeader() throws {
        let path = try record("r/2 1 360 20\nseg1 10\nseg2 10\n")
        assertWFDBError(try openAndRead(path), names: directory.file("seg1.hea")) {
            $0 == .fileNotFound(file: self.directory.file("seg1.hea"))
        }
    }

    func testFewerSegmentLinesThanDeclared() throws {
        let path = try record("r/3 1 360 20\nseg1 10\n")
        assertWFDBError(try openAndRead(path), names: headerFile()) {
            if case .missingSignalLines(_, _, 3, 1) = $0 { return true } else { return false }
        }
    }

    func testSegmentShorterThanTheMasterHeaderSays() throws {
        try directory.write("seg1.hea", "seg1 1 360 5\nseg1.dat 16\n")
        try directory.write("seg1.dat", bytes: [UInt8](repeating: 0, count: 10))
        let path = try record("r/1 1 360 10\nseg1 10\n")
        assertWFDBError(try openAndRead(path), names: headerFile()) {
            if case .segmentMismatch(_, "seg1", _) = $0 { return true } else { return false }
        }
    }

    func testNestedMultiSegmentRecord() throws {
        try directory.write("inner.hea", "inner/1 1 360 5\n~ 5\n")
        let path = try record("r/1 1 360 5\ninner 5\n")
        assertWFDBError(try openAndRead(path), names: directory.file("inner.hea")) {
            if case .segmentMismatch(_, "inner", _) = $0 { return true } else { return false }
        }
    }

    // MARK: annotation files

    private func annotations(_ bytes: [UInt8]) throws -> [Annotation] {
        try directory.write("r.atr", bytes: bytes)
        return try AnnotationFile.read(record: RecordLocation(path: directory.file("r")), annotator: "atr")
    }

    private func atrFile() -> String { directory.file("r.atr") }

    func testAnnotationFileEndingMidWord() {
        assertWFDBError(try annotations([10, 1 << 2, 20]), names: atrFile()) {
            $0 == .truncatedAnnotationFile(file: self.atrFile(), byteOffset: 2, reason: "file ends mid-word")
        }
    }

    func testSkipPastTheEnd() {
        assertWFDBError(try annotations([10, 1 << 2, 0, 59 << 2, 1, 0]), names: atrFile()) {
            if case .truncatedAnnotationFile(_, 2, _) = $0 { return true } else { return false }
        }
    }

    func testAuxLongerThanTheFile() {
        assertWFDBError(try annotations([10, 1 << 2, 200, 63 << 2, 65, 66]), names: atrFile()) {
            if case .truncatedAnnotationFile(_, 2, _) = $0 { return true } else { return false }
        }
    }

    func testSkipBeforeTheStartOfTheRecord() {
        // SKIP of -100 samples after an annotation at 10.
        let interval = UInt32(bitPattern: -100)
        let high = Int(interval >> 16)
        let low = Int(interval & 0xFFFF)
        let bytes: [UInt8] = [
            10, 1 << 2, 0, 59 << 2, UInt8(high & 0xFF), UInt8(high >> 8),
            UInt8(low & 0xFF), UInt8(low >> 8), 1, 1 << 2,
        ]
        assertWFDBError(try annotations(bytes), names: atrFile()) {
            if case .invalidAnnotationTime(_, 2, -90) = $0 { return true } else { return false }
        }
    }

    func testMissingAnnotationFile() {
        let path = directory.file("r.qrs")
        assertWFDBError(
            try AnnotationFile.read(record: RecordLocation(path: directory.file("r")), annotator: "qrs"),
            names: path
        ) { $0 == .fileNotFound(file: path) }
    }

    // MARK: writer

    func testWriterRejectsValuesOutsideTheFormat() throws {
        let header = RecordHeader(
            name: "w", signals: [SignalSpec(fileName: "w.dat", format: .packed212)], sampleCount: 2)
        assertWFDBError(
            try RecordWriter.write(header, samples: [[0, 5000]], directory: directory.path),
            names: directory.file("w.hea")
        ) {
            if case .unrepresentable = $0 { return true } else { return false }
        }
    }

    func testWriterRejectsFormat8StepsTooLarge() throws {
        let header = RecordHeader(name: "w", signals: [SignalSpec(fileName: "w.dat", format: .diff8)], sampleCount: 2)
        assertWFDBError(
            try RecordWriter.write(header, samples: [[0, 500]], directory: directory.path),
            names: directory.file("w.hea")
        ) {
            if case .unrepresentable = $0 { return true } else { return false }
        }
    }
}

extension BadInputTests {
    func testAbsurdNullSegmentIsRefusedBeforeAllocating() throws {
        let path = try record("r/1 1 360\n~ 900000000000000\n")
        assertWFDBError(try openAndRead(path), names: headerFile()) {
            if case .segmentMismatch(_, "~", _) = $0 { return true } else { return false }
        }
    }

    func testEmptyAuxIsNoAux() throws {
        let parsed = try AnnotationFile.parse([10, 1 << 2, 0, 63 << 2, 0, 0], file: "e.atr")
        XCTAssertEqual(parsed, [Annotation(sample: 10, code: 1)])
    }
}

extension BadInputTests {
    func testSegmentRepeatedIntoAnAbsurdLengthIsRefused() throws {
        // 2,200 references to one 1,000,000-sample segment: more than 2^31 samples from a 2 MB file.
        try directory.write("seg1.hea", "seg1 1 360 1000000\nseg1.dat 16\n")
        try directory.write("seg1.dat", bytes: [UInt8](repeating: 0, count: 2_000_000))
        let lines = String(repeating: "seg1 1000000\n", count: 2200)
        let path = try record("r/2200 1 360\n" + lines)
        assertWFDBError(try openAndRead(path), names: headerFile()) {
            if case .segmentMismatch(_, "seg1", _) = $0 { return true } else { return false }
        }
    }
}

extension BadInputTests {
    func testItem10_ManySegmentsAreReadInLinearTime() throws {
        // A real segment, then 40,000 null ones, read block by block: each block used to scan every segment
        // (quadratic: minutes).
        let count = 40_000
        try directory.write("a.hea", "a 1 360 4\na.dat 16\n")
        try directory.write("a.dat", bytes: [1, 0, 2, 0, 3, 0, 4, 0])
        let lines = ["r/\(count + 1) 1 360 \(4 + count * 10)", "a 4"] + Array(repeating: "~ 10", count: count)
        let path = try record(lines.joined(separator: "\n") + "\n", datBytes: nil)
        let start = Date()
        var sizes: [Int] = []
        _ = try WFDBRecord.open(path).forEachBlock { block in sizes.append(block.channels.first?.digital.count ?? 0) }
        XCTAssertEqual(sizes, [4] + Array(repeating: 10, count: count))
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
    }

    func testItem10_ARangeAcrossSegmentsReadsEachOnce() throws {
        try directory.write("a.hea", "a 1 360 4\na.dat 16\n")
        try directory.write("a.dat", bytes: [1, 0, 2, 0, 3, 0, 4, 0])
        let path = try record("r/3 1 360 10\na 4\n~ 2\na 4\n", datBytes: nil)
        let block = try WFDBRecord.open(path).read(frames: 3..<9)
        let marker = try XCTUnwrap(block.channels.first?.invalidValue)
        XCTAssertEqual(block.channels.first?.digital, [4, marker, marker, 1, 2, 3])
    }
}

extension BadInputTests {
    func testItem10_AnAnnotationFileCutAtAnEvenByteIsRefused() throws {
        // Five whole beats and the end word, cut after the third beat: still whole 16-bit words.
        let whole = try AnnotationFile.encode((1...5).map { Annotation(sample: $0 * 40, code: 1) }, file: "w")
        XCTAssertEqual(try annotations(whole).count, 5)
        assertWFDBError(try annotations(Array(whole.prefix(6))), names: atrFile()) {
            $0
                == .truncatedAnnotationFile(
                    file: self.atrFile(), byteOffset: 6, reason: "no end-of-file marker (0x0000): the file is cut short"
                )
        }
    }

    func testItem10_ASkipPastTheRecordsEndIsRefusedNamingTheAnnotation() throws {
        // A 100-sample record; annotation 1 comes after a SKIP of 2^31 - 1 samples.
        _ = try record("r 1 360 100\nr.dat 16\n", datBytes: 200)
        let bytes: [UInt8] = [10, 1 << 2, 0, 59 << 2, 0xFF, 0x7F, 0xFF, 0xFF, 0, 1 << 2, 0, 0]
        assertWFDBError(try annotations(bytes), names: atrFile()) {
            $0
                == .annotationPastRecordEnd(
                    file: self.atrFile(), byteOffset: 8, index: 1, sample: 10 + Int(Int32.max), length: 100)
        }
        XCTAssertTrue(
            WFDBError.annotationPastRecordEnd(
                file: "r.atr", byteOffset: 8, index: 1, sample: 2_147_483_657, length: 100
            )
            .description.contains("annotation 1 at sample 2147483657 lies past the end of the record (100 samples)"))
    }

    func testItem10_AMultiFrequencyRecordBoundsAnnotationsByItsFastestSignal() throws {
        // 100 frames of 4 samples: a high-resolution annotator counts up to 400.
        _ = try record("r 1 360 100\nr.dat 16x4\n", datBytes: 800)
        let last = try AnnotationFile.encode([Annotation(sample: 399, code: 1)], file: "w")
        XCTAssertEqual(try annotations(last).map(\.sample), [399])
        let past = try AnnotationFile.encode([Annotation(sample: 400, code: 1)], file: "w")
        assertWFDBError(try annotations(past), names: atrFile()) {
            if case .annotationPastRecordEnd(_, 0, 0, 400, 400) = $0 { return true } else { return false }
        }
    }

    func testItem10_AnnotationsInsideTheRecordAndWithoutAHeaderAreRead() throws {
        let bytes = try AnnotationFile.encode([Annotation(sample: 99, code: 1)], file: "w")
        XCTAssertEqual(try annotations(bytes).map(\.sample), [99], "no header: nothing bounds the times")
        _ = try record("r 1 360 100\nr.dat 16\n", datBytes: 200)
        XCTAssertEqual(try annotations(bytes).map(\.sample), [99])
        let past = try AnnotationFile.encode([Annotation(sample: 100, code: 1)], file: "w")
        assertWFDBError(try annotations(past), names: atrFile()) {
            if case .annotationPastRecordEnd(_, 0, 0, 100, 100) = $0 { return true } else { return false }
        }
    }
}
