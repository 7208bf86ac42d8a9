import ECGFixtures
import ECGInference
import ECGSignal
import ECGStages
import Foundation
import NeuralNet
import ONNX
import WFDB
import XCTest

/// `pipe infer`'s library: an exported model read back with its metadata, every beat of a raw record detected,
/// cut as preprocess cuts it and classified, the verdict, the annotation file, and bad input.
final class InferenceTests: XCTestCase {
    private var directory = URL(fileURLWithPath: NSTemporaryDirectory())

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("infer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private static let specs: [LayerSpec] = [
        .conv1d(outChannels: 4, kernel: 5, stride: 1, padding: 2), .batchNorm1d, .relu,
        .maxPool1d(kernel: 4, stride: 4), .flatten, .concatFeatures, .linear(outFeatures: 8), .relu,
        .dropout(probability: 0.1), .linear(outFeatures: 5),
    ]

    /// An untrained model (seeded), exported as ecg.export does; returns the Swift model and the .onnx path.
    private func exportModel(
        metadata extra: [String: String] = [:], featureCount: Int = BeatDataset.featureNames.count
    ) throws -> (Model, URL) {
        let model = try Model(
            specs: Self.specs, inputLength: 187, featureCount: featureCount, classCount: 5, seed: 3)
        var metadata = [
            "class_names": "N S V F Q", "window": "187", "sampling_rate": "360.0", "normalization": "minmax",
            "lead": "MLII", "architecture": "tiny",
        ]
        for (key, value) in extra { metadata[key] = value }
        let url = directory.appendingPathComponent("model.onnx")
        try ONNXExport.model(model, metadata: metadata).serialized().write(to: url)
        return (model, url)
    }

    /// A two-lead record (V5 flat, then MLII with the ECG) with reference annotations; returns its path.
    @discardableResult
    private func writeRecord(
        _ name: String, samplingRate: Double = 360, fixture given: SyntheticECG? = nil, flat: Bool = false
    ) throws -> (path: String, fixture: SyntheticECG) {
        let fixture = given ?? SyntheticECG.regular(samplingRate: samplingRate, beatsPerMinute: 72, duration: 40)
        let ecg = fixture.samples()
        let path = try writeLeads(
            name, [("V5", Array(repeating: 0, count: ecg.count)), ("MLII", flat ? ecg.map { _ in 0.06 } : ecg)],
            fixture: fixture)
        return (path, fixture)
    }

    /// A record of the given leads (mV, 200 units per mV) with the fixture's beats as reference annotations,
    /// every fifth one V; returns its path.
    private func writeLeads(_ name: String, _ leads: [(name: String, signal: [Double])], fixture: SyntheticECG) throws
        -> String
    {
        let header = RecordHeader(
            name: name,
            signals: leads.map {
                SignalSpec(fileName: "\(name).dat", format: .packed212, gain: 200, description: $0.name)
            }, samplingFrequency: fixture.samplingRate)
        try RecordWriter.write(
            header, samples: leads.map { $0.signal.map { Int32(($0 * 200).rounded()) } }, directory: directory.path)
        let annotations = fixture.peakSamples.enumerated().map { index, sample in
            Annotation(sample: sample, code: AnnotationCode.code(for: index % 5 == 4 ? "V" : "N") ?? 1)
        }
        try AnnotationFile.write(annotations, record: RecordLocation(directory: directory.path, name: name))
        return directory.appendingPathComponent(name).path
    }

    private func infer(_ path: String, model url: URL, options: InferenceOptions = InferenceOptions()) throws
        -> RecordInferenceResult
    {
        let classifier = try BeatClassifier(contentsOf: url)
        return try RecordInference.run(
            recordPath: path, classifier: classifier, runtime: classifier.makeRuntime(), options: options)
    }

    func testTheModelsMetadataSaysHowBeatsAreCut() throws {
        let (_, url) = try exportModel(metadata: ["sampling_rate": "250", "normalization": "zscore", "lead": "II"])
        let classifier = try BeatClassifier(contentsOf: url)
        XCTAssertEqual(classifier.settings.windowLength, 187)
        XCTAssertEqual(classifier.samplingRate, 250)
        XCTAssertEqual(classifier.settings.normalization, .zScore)
        XCTAssertEqual(classifier.settings.lead, .named("II", fallbackToFirst: true))
        XCTAssertEqual(classifier.settings.peaks, .detected)
        XCTAssertNil(classifier.settings.labels)
        XCTAssertEqual(classifier.classes, AAMIClass.allCases)
        XCTAssertEqual(classifier.featureCount, BeatDataset.featureNames.count)
    }

    func testAModelTakingTheFirstEightFeaturesGetsThatPrefixOfEachBeat() throws {
        let (model, url) = try exportModel(featureCount: 8)
        let (path, _) = try writeRecord("p")
        let whole = try infer(path, model: url)
        var settings = try BeatClassifier(contentsOf: url).settings
        settings.lead = .index(1)
        let beats = try BeatExtraction.extract(recordPath: path, settings: settings)
        let stride = BeatDataset.featureNames.count
        let prefix = (0..<beats.count).flatMap { beats.features[($0 * stride)..<($0 * stride + 8)] }
        let logits = try model.predict(windows: beats.windows, features: prefix, count: beats.count)
        XCTAssertEqual(whole.beats.count, beats.count)
        for (index, prediction) in whole.beats.enumerated() {
            let row = Array(logits[(index * 5)..<((index + 1) * 5)])
            XCTAssertEqual(prediction.beatClass.index, row.firstIndex(of: row.max() ?? 0), "beat \(index)")
        }
        var options = InferenceOptions()
        options.from = "00:00:10.000"  // a subset of the beats takes the per-beat path
        let part = try infer(path, model: url, options: options)
        XCTAssertLessThan(part.beats.count, whole.beats.count)
        let tail = Array(whole.beats.suffix(part.beats.count))
        XCTAssertEqual(part.beats.map(\.beatClass), tail.map(\.beatClass))
        for (a, b) in zip(part.beats.flatMap(\.probabilities), tail.flatMap(\.probabilities)) {
            XCTAssertEqual(a, b, accuracy: 1e-5)
        }
    }

    func testItem10_ADeviceOrAFIFOAsTheModelIsNamedAsOne() throws {
        XCTAssertThrowsError(try BeatClassifier(contentsOf: URL(fileURLWithPath: "/dev/zero"))) { error in
            XCTAssertEqual(
                error as? ONNXError, .unreadableFile(path: "/dev/zero", reason: "a device, not a regular file"))
        }
        let fifo = directory.appendingPathComponent("model.onnx")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        XCTAssertThrowsError(try BeatClassifier(contentsOf: fifo)) { error in
            XCTAssertEqual(error as? ONNXError, .unreadableFile(path: fifo.path, reason: "a FIFO, not a regular file"))
        }
    }

    func testItem3_AModelDeclaringOneHertzIsRefused() throws {
        let (_, url) = try exportModel(metadata: ["sampling_rate": "1"])
        XCTAssertThrowsError(try BeatClassifier(contentsOf: url)) { error in
            guard case .unusableModel(url.path, let reason)? = error as? BeatClassifierError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(reason, "metadata sampling_rate 1 Hz is outside 50 Hz to 10 kHz, the rates of ECG")
        }
    }

    func testItem3_AModelDeclaringAMegahertzIsRefused() throws {
        let (_, url) = try exportModel(metadata: ["sampling_rate": "1e6"])
        XCTAssertThrowsError(try BeatClassifier(contentsOf: url)) { error in
            guard case .unusableModel? = error as? BeatClassifierError else { return XCTFail("\(error)") }
        }
    }

    func testItem3_ARecordBelowTheECGRangeIsRefusedBeforeResampling() throws {
        let (_, url) = try exportModel()
        let header = RecordHeader(
            name: "slow", signals: [SignalSpec(fileName: "slow.dat", format: .int16, gain: 200, description: "MLII")],
            samplingFrequency: 0.01)
        try RecordWriter.write(header, samples: [[Int32](repeating: 0, count: 400)], directory: directory.path)
        let path = directory.appendingPathComponent("slow").path
        let start = Date()
        XCTAssertThrowsError(try infer(path, model: url)) { error in
            XCTAssertEqual(error as? BeatExtractionError, .badSamplingRate(record: path + ".hea", rate: 0.01))
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "no 36,000-fold resampling was attempted")
    }

    func testEveryBeatIsFoundAndClassifiedAsTheSwiftModelClassifiesPreprocessWindows() throws {
        let (model, url) = try exportModel()
        let (path, fixture) = try writeRecord("r1")
        let result = try infer(path, model: url)
        XCTAssertEqual(result.lead, "MLII")
        XCTAssertEqual(result.beats.count + result.skipped, fixture.beatTimes.count)
        XCTAssertGreaterThanOrEqual(result.beats.count, fixture.beatTimes.count - 2)
        for beat in result.beats {
            let nearest = fixture.peakSamples.map { abs($0 - beat.sample) }.min() ?? .max
            XCTAssertLessThanOrEqual(nearest, 8, "beat at \(beat.sample) is a fixture beat")
            XCTAssertEqual(beat.probabilities.reduce(0, +), 1, accuracy: 1e-5)
            XCTAssertEqual(beat.probability, beat.probabilities.max() ?? 0)
        }

        // The same record through preprocess's extraction (detected peaks, no labels) and the Swift model.
        var settings = BeatExtractionSettings()
        settings.peaks = .detected
        settings.labels = nil
        let beats = try BeatExtraction.extract(recordPath: path, settings: settings)
        XCTAssertEqual(beats.samples, result.beats.map(\.sample))
        let expected = try model.predictClasses(windows: beats.windows, features: beats.features, count: beats.count)
        XCTAssertEqual(result.beats.map(\.beatClass.index), expected)
        XCTAssertEqual(result.summary.beats, result.beats.count)
        XCTAssertEqual(AAMIClass.allCases.map(result.summary.count).reduce(0, +), result.beats.count)
        XCTAssertEqual(result.summary.meanHeartRate ?? 0, 72, accuracy: 1)
    }

    func testTilesSharedBetweenRuntimesGiveTheProbabilitiesOfOneBeatAtATime() throws {
        let (_, url) = try exportModel()
        let classifier = try BeatClassifier(contentsOf: url)
        let count = 203  // not a multiple of the tile
        var generator = FixtureRandom(seed: 9)
        let windows = (0..<(count * 187)).map { _ in Float(generator.nextUniform()) }
        let features = (0..<(count * classifier.featureCount)).map { _ in Float(generator.nextUniform()) }
        let single = try classifier.probabilities(
            windows: windows, features: features, count: count, batchSize: 1, runtimes: [classifier.makeRuntime()])
        let shared = try classifier.probabilities(
            windows: windows, features: features, count: count, batchSize: 1024,
            runtimes: [classifier.makeRuntime(), classifier.makeRuntime(), classifier.makeRuntime()])
        XCTAssertEqual(single.count, count * 5)
        XCTAssertEqual(shared.count, single.count)
        for (a, b) in zip(single, shared) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    func testARecordAtAnotherRateIsResampledAndReportedInItsOwnSamples() throws {
        let (_, url) = try exportModel()
        let (path, fixture) = try writeRecord("r250", samplingRate: 250)
        let result = try infer(path, model: url)
        XCTAssertEqual(result.frameRate, 250)
        XCTAssertEqual(result.modelRate, 360)
        XCTAssertGreaterThanOrEqual(result.beats.count, fixture.beatTimes.count - 2)
        for beat in result.beats {
            let nearest = fixture.peakSamples.map { abs($0 - beat.sample) }.min() ?? .max
            XCTAssertLessThanOrEqual(nearest, 6, "beat at \(beat.sample) in 250 Hz samples")
        }
    }

    func testFromAndToKeepTheBeatsInTheirRange() throws {
        let (_, url) = try exportModel()
        let (path, fixture) = try writeRecord("r2")
        var options = InferenceOptions()
        options.from = "0:10"
        options.to = "00:00:20.000"
        let result = try infer(path, model: url, options: options)
        let expected = fixture.beatTimes.filter { $0 >= 10 && $0 < 20 }.count
        XCTAssertEqual(result.beats.count, expected)
        XCTAssertTrue(result.beats.allSatisfy { $0.time >= 10 && $0.time < 20 })
        XCTAssertEqual(result.summary.duration, 10, accuracy: 1e-9)
        options.from = "20.0"
        XCTAssertThrowsError(try infer(path, model: url, options: options)) { error in
            XCTAssertTrue("\(error)".contains("is not before"), "\(error)")
        }
        options.from = "soon"
        XCTAssertThrowsError(try infer(path, model: url, options: options)) { error in
            XCTAssertTrue("\(error)".contains("--from 'soon'"), "\(error)")
        }
    }

    func testAFlatSignalHasNoBeatsAndAnEmptySummary() throws {
        let (_, url) = try exportModel()
        let (path, _) = try writeRecord("flat", flat: true)
        let result = try infer(path, model: url)
        XCTAssertTrue(result.beats.isEmpty)
        XCTAssertFalse(result.summary.arrhythmia)
        XCTAssertNil(result.summary.meanHeartRate)
        let classifier = try BeatClassifier(contentsOf: url)
        let text = InferenceReport.text(result, model: classifier, summaryOnly: false)
        XCTAssertTrue(text.contains("no beats detected"), text)
        XCTAssertTrue(text.contains("arrhythmia: absent"), text)
    }

    func testTheVerdictFollowsTheBurdenRule() {
        func summary(_ counts: [AAMIClass: Int], burden: Double) -> InferenceSummary {
            InferenceSummary(
                beats: counts.values.reduce(0, +), counts: counts, duration: 60, meanHeartRate: 70,
                rule: ArrhythmiaRule(burdenPercent: burden))
        }
        let mostlyNormal = summary([.N: 990, .V: 6, .S: 3, .Q: 1], burden: 1)
        XCTAssertEqual(mostlyNormal.burden, 0.9, accuracy: 1e-9)
        XCTAssertFalse(mostlyNormal.arrhythmia, "Q beats are not arrhythmic")
        XCTAssertEqual(mostlyNormal.findings, [.V, .S])
        XCTAssertTrue(summary([.N: 990, .V: 6, .S: 3, .Q: 1], burden: 0.5).arrhythmia)
        XCTAssertTrue(summary([.N: 98, .V: 2], burden: 1).arrhythmia)
        XCTAssertFalse(summary([:], burden: 0).arrhythmia, "no beats, no arrhythmia")
        let total = mostlyNormal + summary([.N: 50, .F: 50], burden: 1)
        XCTAssertEqual(total.beats, 1100)
        XCTAssertEqual(total.count(.F), 50)
        XCTAssertEqual(total.duration, 120)
        XCTAssertEqual(total.meanHeartRate ?? 0, 70, accuracy: 1e-9)
        let slow = InferenceSummary(
            beats: 60, counts: [.N: 60], duration: 60, meanHeartRate: 60, rule: ArrhythmiaRule())
        let fast = InferenceSummary(
            beats: 180, counts: [.N: 180], duration: 120, meanHeartRate: 90, rule: ArrhythmiaRule())
        XCTAssertEqual((slow + fast).meanHeartRate ?? 0, 80, accuracy: 1e-9, "weighted by duration")
        XCTAssertEqual((slow + .empty(rule: ArrhythmiaRule())).meanHeartRate ?? 0, 60, accuracy: 1e-9)
        XCTAssertNil((InferenceSummary.empty(rule: ArrhythmiaRule()) + .empty(rule: ArrhythmiaRule())).meanHeartRate)
    }

    func testTheAnnotationFileHoldsOneBeatPerPredictionWithItsClass() throws {
        let (_, url) = try exportModel()
        let (path, _) = try writeRecord("r3")
        let result = try infer(path, model: url)
        let written = try RecordInference.writeAnnotations(result, annotator: "pipe", directory: nil)
        XCTAssertEqual(written, path + ".pipe")
        let annotations = try AnnotationFile.read(
            record: RecordLocation(directory: directory.path, name: "r3"), annotator: "pipe")
        XCTAssertEqual(annotations.map(\.sample), result.beats.map(\.sample))
        XCTAssertEqual(annotations.map(\.symbol), result.beats.map(\.beatClass.rawValue))
    }

    func testScoringAgainstTheReferenceCountsMatchedMissedAndExtraBeats() throws {
        let (_, url) = try exportModel()
        let (path, fixture) = try writeRecord("r4")
        var options = InferenceOptions()
        options.reference = "atr"
        let result = try infer(path, model: url, options: options)
        let evaluation = try XCTUnwrap(result.evaluation)
        let matched = evaluation.confusion.flatMap { $0 }.reduce(0, +)
        XCTAssertEqual(matched, result.beats.count)
        XCTAssertEqual(evaluation.extra, 0)
        XCTAssertEqual(evaluation.missed, fixture.beatTimes.count - result.beats.count)
        let truthV = evaluation.confusion[AAMIClass.V.index].reduce(0, +)
        XCTAssertEqual(truthV, fixture.beatTimes.indices.filter { $0 % 5 == 4 }.count, accuracy: 1)
    }

    func testALeadNotInTheHeaderIsAnError() throws {
        let (_, url) = try exportModel()
        let (path, _) = try writeRecord("r5")
        var options = InferenceOptions()
        options.lead = LeadSelection(text: "V1", fallbackToFirst: false)
        XCTAssertThrowsError(try infer(path, model: url, options: options)) { error in
            XCTAssertTrue("\(error)".contains("V1"), "\(error)")
        }
        options.lead = LeadSelection(text: "0", fallbackToFirst: false)
        XCTAssertEqual(try infer(path, model: url, options: options).lead, "V5")
    }

    func testARecordShorterThanOneWindowIsAnError() throws {
        let (_, url) = try exportModel()
        let fixture = SyntheticECG(samplingRate: 360, beatTimes: [0.2], duration: 0.4)
        let (path, _) = try writeRecord("short", fixture: fixture)
        XCTAssertThrowsError(try infer(path, model: url)) { error in
            XCTAssertTrue("\(error)".contains("shorter than one 187-sample window"), "\(error)")
        }
    }

    func testAFileThatIsNotONNXIsAClearError() throws {
        let url = directory.appendingPathComponent("junk.onnx")
        try Data("not a model at all\n".utf8).write(to: url)
        XCTAssertThrowsError(try BeatClassifier(contentsOf: url)) { error in
            XCTAssertTrue("\(error)".hasPrefix(url.path), "\(error)")
        }
    }

    func testAnUnsupportedOperatorIsNamed() throws {
        var builder = ONNXModelBuilder(graphName: "g", opsetVersion: 17)
        try builder.addInput("beats", shape: ["N", 1, 187])
        try builder.addNode("Erf", inputs: ["beats"], outputs: ["logits"])
        builder.addOutput("logits", shape: ["N", 1, 187])
        let url = directory.appendingPathComponent("erf.onnx")
        try builder.serialized().write(to: url)
        XCTAssertThrowsError(try BeatClassifier(contentsOf: url)) { error in
            XCTAssertTrue("\(error)".contains("Erf"), "\(error)")
        }
    }

    func testAModelWithoutMetadataGetsTheOriginalDefaults() throws {
        let model = try Model(specs: Architectures.original, inputLength: 187, classCount: 5, seed: 1)
        let url = directory.appendingPathComponent("bare.onnx")
        try ONNXExport.model(model, metadata: [:]).serialized().write(to: url)
        let classifier = try BeatClassifier(contentsOf: url)
        XCTAssertEqual(classifier.samplingRate, 360)
        XCTAssertEqual(classifier.settings.normalization, .minMax)
        XCTAssertEqual(classifier.settings.lead, .preferMLII)
        XCTAssertNil(classifier.featuresInput)
        let (path, _) = try writeRecord("r6")
        let result = try RecordInference.run(
            recordPath: path, classifier: classifier, runtime: classifier.makeRuntime(), options: .init())
        XCTAssertFalse(result.beats.isEmpty)
    }

    // MARK: - Every lead, and what could not be read

    /// Noise as large as the QRS complexes (white Gaussian smoothed over 5 samples, `amplitude` mV), over the
    /// whole signal or, with `burst`, inside those seconds only.
    private func noise(
        count: Int, amplitude: Double, rate: Double = 360, burst: Range<Double>? = nil, seed: UInt64 = 11
    ) -> [Double] {
        var random = FixtureRandom(seed: seed)
        var history = [Double](repeating: 0, count: 5)
        return (0..<count).map { index in
            history[index % 5] = random.nextGaussian()
            if let burst, !burst.contains(Double(index) / rate) { return 0 }
            return amplitude * history.reduce(0, +) / 5.0.squareRoot()
        }
    }

    private func options(lead: String? = nil, fusion: LeadFusion = .quality) -> InferenceOptions {
        var options = InferenceOptions()
        options.lead = lead.map { LeadSelection(text: $0, fallbackToFirst: false) }
        options.fusion = fusion
        return options
    }

    func testEveryLeadIsClassifiedAtTheSamePeaksAndTheMeanFusesTheirProbabilities() throws {
        let (model, url) = try exportModel()
        let fixture = SyntheticECG.regular(samplingRate: 360, beatsPerMinute: 72, duration: 40)
        let inverted = fixture.samples().map { -0.5 * $0 }
        let path = try writeLeads("two", [("MLII", fixture.samples()), ("V1", inverted)], fixture: fixture)
        let result = try infer(path, model: url, options: options(fusion: .mean))
        XCTAssertEqual(result.fusion, .mean)
        XCTAssertEqual(result.leads.map(\.index), [0, 1])
        XCTAssertEqual(result.leads.map(\.name), ["MLII", "V1"])
        XCTAssertEqual(result.lead, "MLII", "the beats are detected on the model's lead")
        XCTAssertEqual(result.leads.map(\.beats), [result.beats.count, result.beats.count])

        let classifier = try BeatClassifier(contentsOf: url)
        let leads = try BeatExtraction.extractAtSharedPeaks(recordPath: path, settings: classifier.settings)
        XCTAssertEqual(leads.map(\.leadIndex), [0, 1])
        XCTAssertEqual(leads[0].samples, leads[1].samples, "each lead cut at the same R samples")
        XCTAssertEqual(leads[0].samples, result.beats.map(\.sample))
        func softmax(_ logits: [Float]) -> [[Float]] {
            stride(from: 0, to: logits.count, by: 5).map { start in
                let row = logits[start..<(start + 5)]
                let top = row.max() ?? 0
                let exps = row.map { Float(exp(Double($0 - top))) }
                let sum = exps.reduce(0, +)
                return exps.map { $0 / sum }
            }
        }
        let first = softmax(
            try model.predict(windows: leads[0].windows, features: leads[0].features, count: leads[0].count))
        let second = softmax(
            try model.predict(windows: leads[1].windows, features: leads[1].features, count: leads[1].count))
        for (index, beat) in result.beats.enumerated() {
            XCTAssertEqual(beat.leads, [0, 1])
            for offset in 0..<5 {
                XCTAssertEqual(
                    beat.probabilities[offset], (first[index][offset] + second[index][offset]) / 2, accuracy: 1e-4,
                    "beat \(index) class \(offset)")
            }
        }
    }

    func testALeadThatIsNoiseLeavesTheDecisionToTheCleanLead() throws {
        let (_, url) = try exportModel()
        let fixture = SyntheticECG.regular(samplingRate: 360, beatsPerMinute: 72, duration: 60)
        let clean = fixture.samples()
        let path = try writeLeads(
            "noisy", [("MLII", clean), ("V2", noise(count: clean.count, amplitude: 1.5))], fixture: fixture)
        let fused = try infer(path, model: url)
        let alone = try infer(path, model: url, options: options(lead: "0"))
        XCTAssertEqual(fused.fusion, .quality)
        XCTAssertNil(alone.fusion)
        XCTAssertEqual(fused.beats.map(\.sample), alone.beats.map(\.sample))
        XCTAssertEqual(fused.beats.map(\.beatClass), alone.beats.map(\.beatClass))
        XCTAssertTrue(fused.beats.allSatisfy { $0.leads == [0] }, "\(fused.beats.map(\.leads))")
        XCTAssertEqual(fused.leads.map(\.beats), [fused.beats.count, 0])
        XCTAssertGreaterThan(fused.leads[1].unreadable.fraction, 0.5, "the noise lead is mostly unreadable")
        XCTAssertEqual(fused.unreadable.stretches, [], "the detection lead is clean")
        let text = InferenceReport.text(fused, model: try BeatClassifier(contentsOf: url), summaryOnly: true)
        XCTAssertTrue(text.contains("leads MLII (channel 0) + V2 (channel 1), detected on MLII"), text)
        XCTAssertTrue(
            text.contains("leads deciding: MLII (channel 0) \(fused.beats.count) beats, V2 (channel 1) 0"), text)
    }

    func testAOneLeadRecordIsClassifiedOnTheLeadItHas() throws {
        let (_, url) = try exportModel()
        let fixture = SyntheticECG.regular(samplingRate: 360, beatsPerMinute: 72, duration: 40)
        let path = try writeLeads("single", [("ECG1", fixture.samples())], fixture: fixture)
        let result = try infer(path, model: url)
        XCTAssertNil(result.fusion, "nothing to fuse")
        XCTAssertEqual(result.leads.map(\.name), ["ECG1"])
        XCTAssertGreaterThanOrEqual(result.beats.count, fixture.beatTimes.count - 2)
        XCTAssertTrue(result.beats.allSatisfy { $0.leads == [0] })
        let text = InferenceReport.text(result, model: try BeatClassifier(contentsOf: url), summaryOnly: true)
        XCTAssertTrue(text.hasPrefix("record single: 00:00:40.000, lead ECG1 (channel 0), 360 Hz"), text)
        XCTAssertFalse(text.contains("leads deciding"), text)
    }

    func testASignalThatIsNotAVoltageIsNotReadAsALead() throws {
        let (_, url) = try exportModel()
        let fixture = SyntheticECG.regular(samplingRate: 360, beatsPerMinute: 72, duration: 40)
        let path = try writeLeads("abp", [("MLII", fixture.samples()), ("ABP", fixture.samples())], fixture: fixture)
        let header = URL(fileURLWithPath: path + ".hea")
        let text = try String(contentsOf: header, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[2] = lines[2].replacingOccurrences(of: "/mV", with: "/mmHg")
        if !lines[2].contains("mmHg") { lines[2] = lines[2].replacingOccurrences(of: " 200 ", with: " 200/mmHg ") }
        try lines.joined(separator: "\n").write(to: header, atomically: true, encoding: .utf8)
        let result = try infer(path, model: url)
        XCTAssertEqual(result.leads.map(\.name), ["MLII"], "the blood pressure is left out")
        XCTAssertNil(result.fusion)
        XCTAssertFalse(result.beats.isEmpty)
    }

    func testANoiseBurstOnTheDetectionLeadIsReportedInTheVerdictTheJSONAndTheAnnotations() throws {
        let (_, url) = try exportModel()
        let fixture = SyntheticECG.regular(samplingRate: 360, beatsPerMinute: 75, duration: 120)
        var signal = fixture.samples()
        for (index, value) in noise(count: signal.count, amplitude: 0.3, burst: 60..<80).enumerated() {
            signal[index] += value
        }
        let path = try writeLeads("burst", [("MLII", signal)], fixture: fixture)
        let result = try infer(path, model: url)
        let stretches = result.unreadable.stretches
        XCTAssertFalse(stretches.isEmpty)
        let burst = (60 * 360)..<(80 * 360)
        let inside = stretches.reduce(0) { $0 + $1.clamped(to: burst).count }
        XCTAssertGreaterThan(Double(inside), 0.8 * Double(burst.count), "\(stretches)")
        XCTAssertEqual(result.unreadable.frameCount, 120 * 360)
        XCTAssertEqual(
            result.summary.unreadableSeconds, Double(result.unreadable.unreadableFrames) / 360, accuracy: 1e-9)

        let classifier = try BeatClassifier(contentsOf: url)
        let text = InferenceReport.text(result, model: classifier, summaryOnly: true)
        let share = String(format: "%.1f", 100 * result.unreadable.fraction)
        XCTAssertTrue(
            text.contains("signal quality: \(share) % of the record (0:"), text)
        XCTAssertTrue(text.contains("could not be read reliably (\(stretches.count) low-quality stretch"), text)
        XCTAssertTrue(text.contains("low quality 00:01:"), text)

        let json = try InferenceReport.json(
            [result], total: result.summary, model: classifier, summaryOnly: false)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let record = try XCTUnwrap((document["records"] as? [[String: Any]])?.first)
        let lowQuality = try XCTUnwrap(record["low_quality"] as? [[String: Any]])
        XCTAssertEqual(lowQuality.compactMap { $0["start"] as? Int }, stretches.map(\.lowerBound))
        XCTAssertEqual(lowQuality.compactMap { $0["end"] as? Int }, stretches.map(\.upperBound))
        XCTAssertEqual(record["unreadable_fraction"] as? Double ?? -1, result.unreadable.fraction, accuracy: 1e-4)
        XCTAssertTrue(record["fusion"] is NSNull)
        let leads = try XCTUnwrap(record["leads"] as? [[String: Any]])
        XCTAssertEqual(leads.compactMap { $0["name"] as? String }, ["MLII"])
        let beats = try XCTUnwrap(record["beats"] as? [[String: Any]])
        XCTAssertTrue(beats.allSatisfy { ($0["leads"] as? [Int]) == [0] })
        let summary = try XCTUnwrap(record["summary"] as? [String: Any])
        XCTAssertEqual(summary["low_quality_stretches"] as? Int, stretches.count)
        XCTAssertEqual(summary["quality"] as? String, result.summary.unreadableSentence)

        try RecordInference.writeAnnotations(result, annotator: "pipe", directory: nil)
        let annotations = try AnnotationFile.read(
            record: RecordLocation(directory: directory.path, name: "burst"), annotator: "pipe")
        let noise = annotations.filter { $0.symbol == "~" }
        XCTAssertEqual(noise.map(\.sample), stretches.flatMap { [$0.lowerBound, $0.upperBound] })
        XCTAssertEqual(noise.map(\.subtype), stretches.flatMap { _ in [1, 0] }, "lead 0 noisy, then clean")
        XCTAssertEqual(annotations.filter { $0.symbol != "~" }.map(\.sample), result.beats.map(\.sample))
    }

    func testFusedJSONSaysWhichLeadsDecidedEachBeat() throws {
        let (_, url) = try exportModel()
        let fixture = SyntheticECG.regular(samplingRate: 360, beatsPerMinute: 72, duration: 40)
        let path = try writeLeads("both", [("MLII", fixture.samples()), ("V1", fixture.samples())], fixture: fixture)
        let result = try infer(path, model: url)
        let classifier = try BeatClassifier(contentsOf: url)
        let json = try InferenceReport.json([result], total: result.summary, model: classifier, summaryOnly: false)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let record = try XCTUnwrap((document["records"] as? [[String: Any]])?.first)
        XCTAssertEqual(record["fusion"] as? String, "quality")
        XCTAssertEqual(record["lead"] as? String, "MLII")
        let leads = try XCTUnwrap(record["leads"] as? [[String: Any]])
        XCTAssertEqual(leads.compactMap { $0["index"] as? Int }, [0, 1])
        XCTAssertEqual(leads.compactMap { $0["beats"] as? Int }, [result.beats.count, result.beats.count])
        let beats = try XCTUnwrap(record["beats"] as? [[String: Any]])
        XCTAssertEqual(beats.count, result.beats.count)
        XCTAssertTrue(beats.allSatisfy { ($0["leads"] as? [Int]) == [0, 1] }, "two clean leads both decide")
        let csv = InferenceReport.csv([result], model: classifier, summaryOnly: false).split(separator: "\n")
        XCTAssertEqual(csv.first, "record,time,sample,class,probability,p_N,p_S,p_V,p_F,p_Q,leads")
        XCTAssertTrue(csv.dropFirst().allSatisfy { $0.hasSuffix(",0+1") })
    }
}
