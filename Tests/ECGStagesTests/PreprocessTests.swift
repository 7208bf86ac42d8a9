import ECGFixtures
import ECGSignal
import ECGStages
import Foundation
import PipelineEngine
import WFDB
import XCTest

/// `ecg.preprocess` and the beat extraction beneath it, on synthetic records written by the WFDB writer.
final class PreprocessTests: XCTestCase {
    private var directory = URL(fileURLWithPath: NSTemporaryDirectory())

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("preprocess-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    /// A two-lead record (`V5`, then `MLII` with the ECG) whose beats carry `symbols` in turn; returns its path.
    @discardableResult
    private func writeRecord(
        _ name: String, in folder: URL? = nil, samplingRate: Double = 360, duration: Double = 60,
        symbols: [String] = ["N"], invalidRange: Range<Int>? = nil, annotations writeAnnotations: Bool = true,
        rhythms: [(sample: Int, aux: String)] = [(3, "(N")]
    ) throws -> (path: String, fixture: SyntheticECG) {
        let folder = folder ?? directory
        let fixture = SyntheticECG.regular(samplingRate: samplingRate, beatsPerMinute: 75, duration: duration)
        var ecg = fixture.samples().map { Int32(($0 * 200).rounded()) }
        if let invalidRange { for index in invalidRange { ecg[index] = -2048 } }
        let header = RecordHeader(
            name: name,
            signals: [
                SignalSpec(fileName: "\(name).dat", format: .packed212, gain: 200, description: "V5"),
                SignalSpec(fileName: "\(name).dat", format: .packed212, gain: 200, description: "MLII"),
            ], samplingFrequency: samplingRate)
        try RecordWriter.write(header, samples: [[Int32](repeating: 0, count: ecg.count), ecg], directory: folder.path)
        if writeAnnotations {
            var annotations = fixture.peakSamples.enumerated().map { index, sample in
                Annotation(sample: sample, code: AnnotationCode.code(for: symbols[index % symbols.count]) ?? 1)
            }
            for rhythm in rhythms {
                annotations.append(
                    Annotation(sample: rhythm.sample, code: AnnotationCode.code(for: "+") ?? 28, aux: rhythm.aux))
            }
            annotations.sort { $0.sample < $1.sample }
            try AnnotationFile.write(
                annotations, record: RecordLocation(directory: folder.path, name: name), annotator: "atr")
        }
        return (folder.appendingPathComponent(name).path, fixture)
    }

    func testAnnotatedBeatsGetTheirAAMIClassesAndNonBeatsAreSkipped() throws {
        let (path, fixture) = try writeRecord("a", symbols: ["N", "V", "A", "L", "Q", "F"])
        let beats = try BeatExtraction.extract(recordPath: path, settings: BeatExtractionSettings())
        XCTAssertEqual(beats.lead, "MLII")
        XCTAssertEqual(beats.counts.referenceBeats, fixture.beatTimes.count)
        XCTAssertEqual(beats.count, fixture.beatTimes.count, "every beat fits: the first is 0.5 s in")
        XCTAssertEqual(Array(beats.labels.prefix(6)), [.N, .V, .S, .N, .Q, .F])
        XCTAssertEqual(beats.samples, fixture.peakSamples)
        XCTAssertEqual(beats.windows.count, beats.count * 187)
        XCTAssertEqual(beats.windows.min(), 0)
        XCTAssertEqual(beats.windows.max(), 1)
    }

    func testEachBeatCarriesTheRhythmInEffectAtItsPeakThroughTheDatasetFile() throws {
        // 75 bpm: a beat every 288 samples from 0.5 s (180); AFIB from 20 s, back to N at 40 s (with its NUL pad).
        let (path, fixture) = try writeRecord(
            "r", rhythms: [(3, "(N"), (7_200, "(AFIB"), (14_400, "(N\0")])
        let beats = try BeatExtraction.extract(recordPath: path, settings: BeatExtractionSettings())
        let expected = fixture.peakSamples.map { $0 < 7_200 || $0 >= 14_400 ? "N" : "AFIB" }
        XCTAssertEqual(beats.rhythms, expected)
        XCTAssertTrue(beats.rhythms.contains("AFIB"))

        let (shape, parts) = try PreprocessStage.build(
            directory: directory, records: ["r"], settings: BeatExtractionSettings(), gather: false)
        let file = directory.appendingPathComponent("beats.bin")
        try BeatDatasetFile.write(shape: shape, parts: parts.map(\.beats), to: file)
        let dataset = try BeatDatasetFile.read(file)
        XCTAssertEqual(dataset.rhythmNames, ["N", "AFIB"])
        XCTAssertEqual((0..<dataset.count).map { dataset.rhythmName(of: $0) }, expected)
    }

    func testEveryLeadGivesEachBeatOnceFromEachLeadUnderItsRecord() throws {
        let (_, fixture) = try writeRecord("l")
        var settings = BeatExtractionSettings()
        settings.lead = LeadSelection(text: "all", fallbackToFirst: true)
        XCTAssertEqual(settings.lead, .all)
        let (dataset, parts) = try PreprocessStage.build(directory: directory, records: ["l"], settings: settings)
        XCTAssertEqual(dataset.records, [.init(name: "l", lead: "V5"), .init(name: "l", lead: "MLII")])
        XCTAssertEqual(parts.map(\.beats.leadIndex), [0, 1])
        XCTAssertEqual(parts.map(\.beats.count), [fixture.peakSamples.count, fixture.peakSamples.count])
        XCTAssertEqual(dataset.count, 2 * fixture.peakSamples.count)
        let (train, _) = DatasetSplit.records(train: ["l"], test: []).assign(dataset)
        XCTAssertEqual(train.count, dataset.count, "both leads of a record are on its side of the split")
    }

    func testExtractingOneLeadRefusesAllWithAClearError() throws {
        let (path, _) = try writeRecord("o")
        var settings = BeatExtractionSettings()
        settings.lead = .all
        XCTAssertThrowsError(try BeatExtraction.extract(recordPath: path, settings: settings)) {
            XCTAssertTrue("\($0)".contains("'all' leads is a preprocess setting"), "\($0)")
        }
    }

    func testUnlabelledExtractionReadsNoAnnotationsAndKnowsNoRhythm() throws {
        let (path, _) = try writeRecord("i", rhythms: [(3, "(AFIB")])
        var settings = BeatExtractionSettings()
        settings.labels = nil
        settings.peaks = .detected
        let beats = try BeatExtraction.extract(recordPath: path, settings: settings)
        XCTAssertFalse(beats.rhythms.isEmpty)
        XCTAssertTrue(beats.rhythms.allSatisfy(\.isEmpty))
    }

    func testTheWindowIsCentredOnThePeak() throws {
        let (path, _) = try writeRecord("c")
        var settings = BeatExtractionSettings()
        settings.normalization = .none
        let beats = try BeatExtraction.extract(recordPath: path, settings: settings)
        let first = Array(beats.windows.prefix(187))
        XCTAssertEqual(first.firstIndex(of: first.max() ?? 0), 93, "R peak at the window's centre sample")
    }

    func testSymbolsTheMapLeavesOutAreCountedAsUnlabelled() throws {
        let (path, fixture) = try writeRecord("u", symbols: ["N", "?"])
        let beats = try BeatExtraction.extract(recordPath: path, settings: BeatExtractionSettings())
        XCTAssertEqual(beats.counts.unlabeled, fixture.beatTimes.count / 2)
        XCTAssertEqual(beats.count + beats.counts.unlabeled, fixture.beatTimes.count)
        XCTAssertTrue(beats.labels.allSatisfy { $0 == .N })
    }

    func testWindowsWithInvalidSamplesAreSkippedAndCounted() throws {
        let (path, fixture) = try writeRecord("i", invalidRange: 3_000..<3_100)
        let beats = try BeatExtraction.extract(recordPath: path, settings: BeatExtractionSettings())
        let touched = fixture.peakSamples.filter { $0 - 93 < 3_100 && $0 + 93 >= 3_000 }.count
        XCTAssertGreaterThan(touched, 0)
        XCTAssertEqual(beats.counts.invalid, touched)
        XCTAssertEqual(beats.count, fixture.beatTimes.count - touched)
        XCTAssertFalse(beats.windows.contains { !$0.isFinite })
    }

    func testDetectedPeaksTakeTheReferenceClassWithin150ms() throws {
        let (path, fixture) = try writeRecord("d", symbols: ["N", "N", "V"])
        var settings = BeatExtractionSettings()
        settings.peaks = .detected
        let beats = try BeatExtraction.extract(recordPath: path, settings: settings)
        XCTAssertEqual(beats.counts.detections, fixture.beatTimes.count)
        XCTAssertEqual(beats.counts.unmatchedDetections, 0)
        XCTAssertEqual(beats.labels.filter { $0 == .V }.count, fixture.beatTimes.count / 3)
        for (detected, truth) in zip(beats.samples, fixture.peakSamples) {
            XCTAssertLessThan(abs(detected - truth), 54)
        }
    }

    func testMatchingIsOneToOneAndDropsDetectionsOutsideTheWindow() {
        let matched = BeatExtraction.matchDetections([99, 104, 400, 900], to: [102, 410, 600], within: 54)
        XCTAssertEqual(matched, [nil, 0, 1, nil], "104 is closer to 102 than 99 is; 900 has no reference")
    }

    func testResamplingScalesPeaksAndKeepsTheWindowLength() throws {
        let (path, fixture) = try writeRecord("r", samplingRate: 250)
        var settings = BeatExtractionSettings()
        settings.targetRate = 360
        let beats = try BeatExtraction.extract(recordPath: path, settings: settings)
        XCTAssertEqual(beats.samplingRate, 360)
        XCTAssertEqual(beats.sourceRate, 250)
        XCTAssertEqual(beats.samples.first, Int((Double(fixture.peakSamples[0]) * 360 / 250).rounded()))
        XCTAssertEqual(beats.windows.count, beats.count * 187)
    }

    func testUnlabelledExtractionNeedsNoAnnotationFile() throws {
        let (path, fixture) = try writeRecord("n", annotations: false)
        var settings = BeatExtractionSettings()
        settings.peaks = .detected
        settings.labels = nil
        let beats = try BeatExtraction.extract(recordPath: path, settings: settings)
        XCTAssertEqual(beats.count, fixture.beatTimes.count)
        let k = BeatDataset.featureNames.count
        XCTAssertEqual(beats.features.count, beats.count * k)
        let interval = Float(60.0 / 75.0)
        XCTAssertEqual(beats.features[k], interval, accuracy: 0.01, "second beat's previous RR")
        XCTAssertEqual(beats.features[k + 3], 1, accuracy: 0.02, "a regular rhythm's ratio to the local mean is 1")
        XCTAssertEqual(beats.features[k + 4], 1, accuracy: 0.02, "and so is the next interval's")
    }

    func testAPrematureBeatHasAShortRatioToItsLocalRhythmAndAPauseAfter() throws {
        let fixture = SyntheticECG.intervals(
            [0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.5, 1.1, 0.8, 0.8, 0.8], samplingRate: 360)
        let header = RecordHeader(
            name: "p", signals: [SignalSpec(fileName: "p.dat", format: .packed212, gain: 200, description: "MLII")],
            samplingFrequency: 360)
        try RecordWriter.write(
            header, samples: [fixture.samples().map { Int32(($0 * 200).rounded()) }], directory: directory.path)
        var settings = BeatExtractionSettings()
        settings.peaks = .detected
        settings.labels = nil
        let beats = try BeatExtraction.extract(
            recordPath: directory.appendingPathComponent("p").path, settings: settings)
        XCTAssertEqual(beats.count, 12)
        let k = BeatDataset.featureNames.count
        let premature = Array(beats.features[(7 * k)..<(8 * k)])  // the beat after the 0.5 s interval
        XCTAssertEqual(premature[0], 0.5, accuracy: 0.01)
        XCTAssertEqual(premature[1], 1.1, accuracy: 0.01)
        XCTAssertLessThan(premature[3], 0.75, "previous RR over the local mean of about 0.8 s")
        XCTAssertGreaterThan(premature[4], 1.25, "the compensatory pause")
    }

    func testARecordWithoutAnnotationsFailsWhenLabelsAreNeeded() throws {
        let (path, _) = try writeRecord("m", annotations: false)
        XCTAssertThrowsError(try BeatExtraction.extract(recordPath: path, settings: BeatExtractionSettings())) {
            guard case BeatExtractionError.missingAnnotations(let record, "atr", _) = $0 else {
                return XCTFail("\($0)")
            }
            XCTAssertEqual(record, "m")
            XCTAssertTrue("\($0)".contains("m.atr"))
        }
    }

    func testARecordShorterThanOneWindowIsAnError() throws {
        let header = RecordHeader(
            name: "s", signals: [SignalSpec(fileName: "s.dat", format: .packed212, gain: 200, description: "MLII")],
            samplingFrequency: 360)
        try RecordWriter.write(header, samples: [[Int32](repeating: 0, count: 100)], directory: directory.path)
        XCTAssertThrowsError(
            try BeatExtraction.extract(
                recordPath: directory.appendingPathComponent("s").path, settings: BeatExtractionSettings())
        ) {
            XCTAssertEqual($0 as? BeatExtractionError, .recordTooShort(record: "s", samples: 100, window: 187))
        }
    }

    func testAFlatLineGivesNoDetectedBeatsAndNoCrash() throws {
        let header = RecordHeader(
            name: "f", signals: [SignalSpec(fileName: "f.dat", format: .packed212, gain: 200, description: "MLII")],
            samplingFrequency: 360)
        try RecordWriter.write(header, samples: [[Int32](repeating: 7, count: 36_000)], directory: directory.path)
        var settings = BeatExtractionSettings()
        settings.peaks = .detected
        settings.labels = nil
        let beats = try BeatExtraction.extract(
            recordPath: directory.appendingPathComponent("f").path, settings: settings)
        XCTAssertEqual(beats.count, 0)
    }

    func testALeadNameNotInTheHeaderIsAnErrorUnlessItMayFallBack() throws {
        let (path, _) = try writeRecord("l")
        var settings = BeatExtractionSettings()
        settings.lead = .named("V1", fallbackToFirst: false)
        XCTAssertThrowsError(try BeatExtraction.extract(recordPath: path, settings: settings))
        settings.lead = .named("V1", fallbackToFirst: true)
        XCTAssertEqual(try BeatExtraction.extract(recordPath: path, settings: settings).lead, "V5")
        settings.lead = LeadSelection(text: "1", fallbackToFirst: false)
        XCTAssertEqual(try BeatExtraction.extract(recordPath: path, settings: settings).lead, "MLII")
    }

    // MARK: The stage

    private func workspace(params: String) throws -> Workspace {
        let database = directory.appendingPathComponent("data/db")
        try FileManager.default.createDirectory(at: database, withIntermediateDirectories: true)
        try writeRecord("100", in: database, symbols: ["N", "N", "V"])
        try writeRecord("101", in: database, symbols: ["N", "A"])
        try "100\n101\n".write(to: database.appendingPathComponent("RECORDS"), atomically: true, encoding: .utf8)
        try """
        stages:
          preprocess:
            uses: ecg.preprocess
            deps: [data/db]
            outs: [data/processed]
        """.write(to: directory.appendingPathComponent("pipeline.yaml"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("stages"), withIntermediateDirectories: true)
        try params.write(
            to: directory.appendingPathComponent("stages/preprocess.yaml"), atomically: true, encoding: .utf8)
        return Workspace(root: directory, registry: StageRegistry(ECGStageCatalog.stages))
    }

    static let defaultParams = """
        lead: MLII
        window: 187
        resample_hz: null
        normalize: minmax
        peaks: annotated
        match_window_ms: 150
        records: all
        classes:
          N: [N, L, R, e, j]
          S: [A, a, J, S]
          V: [V, E]
          F: [F]
          Q: ["/", f, Q]
        """

    func testTheStageWritesTheDatasetAndASummaryThenHasNothingToDo() throws {
        let workspace = try workspace(params: Self.defaultParams)
        let first = try workspace.repro(ReproOptions(), observer: CollectingObserver())
        XCTAssertEqual(first.stages(.ran), ["preprocess"])
        let dataset = try BeatDatasetFile.read(directory.appendingPathComponent("data/processed/beats.bin"))
        XCTAssertEqual(dataset.records.map(\.name), ["100", "101"])
        XCTAssertEqual(dataset.records.map(\.lead), ["MLII", "MLII"])
        let (gathered, _) = try PreprocessStage.build(
            directory: directory.appendingPathComponent("data/db"), records: ["100", "101"],
            settings: BeatExtractionSettings())
        XCTAssertEqual(dataset, gathered, "the streamed file holds what gathering in memory gives")
        XCTAssertEqual(dataset.classCounts[AAMIClass.V.index], 24)
        XCTAssertEqual(dataset.classCounts[AAMIClass.S.index], 37)
        let summary =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: directory.appendingPathComponent("data/processed/summary.json")))
            as? [String: Any]
        let records = summary?["records"] as? [String: Any]
        let first100 = records?["100"] as? [String: Any]
        XCTAssertEqual((first100?["classes"] as? [String: Int])?["V"], 24)
        XCTAssertEqual(summary?["beats"] as? Int, dataset.count)
        XCTAssertEqual(try workspace.repro(ReproOptions(), observer: CollectingObserver()).stages(.ran), [])
    }

    func testALabelMapNamingAnUnknownClassFailsTheStageWithTheKeyNamed() throws {
        let workspace = try workspace(
            params: Self.defaultParams.replacingOccurrences(of: "  F: [F]", with: "  X: [F]"))
        let summary = try workspace.repro(ReproOptions(), observer: CollectingObserver())
        XCTAssertEqual(summary.stages(.failed), ["preprocess"])
        let message = summary.results.first?.message ?? ""
        XCTAssertTrue(message.contains("stages/preprocess.yaml"), message)
        XCTAssertTrue(message.contains("unknown class 'X'"), message)
    }

    func testABadParamValueNamesTheKey() throws {
        let workspace = try workspace(
            params: Self.defaultParams.replacingOccurrences(of: "peaks: annotated", with: "peaks: guessed"))
        let message = try workspace.repro(ReproOptions(), observer: CollectingObserver()).results.first?.message ?? ""
        XCTAssertTrue(message.contains("'peaks' must be one of annotated, detected"), message)
    }
}
