import ECGFixtures
import ECGSignal
import ECGStages
import Foundation
import NeuralNet
import ONNX
import PipelineEngine
import WFDB
import XCTest

/// preprocess → train → evaluate → export on a small synthetic database: determinism, resume, the metrics and
/// plots files, and the exported ONNX graph against the Swift model.
final class TrainEvaluateExportTests: XCTestCase {
    private var directory = URL(fileURLWithPath: NSTemporaryDirectory())

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    static let trainParams = """
        architecture: tiny
        architectures:
          tiny:
            - {type: conv1d, out: 4, kernel: 5, padding: 2}
            - batchnorm
            - relu
            - {type: maxpool, kernel: 4}
            - flatten
            - concat_features
            - batchnorm
            - {type: linear, out: 8}
            - relu
            - {type: dropout, p: 0.1}
            - {type: linear, out: 5}
        features: window+rr
        epochs: 15
        batch_size: 8
        lr: 0.01
        optimizer: adamw
        weight_decay: 0.01
        schedule: cosine
        step_size: 1
        gamma: 0.5
        clip_norm: 5
        class_weights: inverse-frequency
        seed: 7
        threads: 1
        split: records
        test_fraction: 0.2
        split_seed: 42
        train_records: ["100", "101"]
        test_records: ["102"]
        cv_folds: 5
        validation_fraction: 0.2
        patience: null
        resume: true
        augment_invert: 0.25
        augment_recorder: 0
        augment_scale: 0.3
        augment_wander: 0.2
        augment_noise: 0.03
        augment_rates: [128, 250, 360]
        """

    /// Three records (or `records`) in which every fourth beat is a premature, taller V beat, and the whole chain
    /// as a pipeline. With `rhythms`, each record's reference says `(N` from its start and `(AFIB` from its middle.
    private func makeWorkspace(
        trainParams: String = trainParams, records: [String] = ["100", "101", "102"], rhythms: Bool = false
    ) throws -> Workspace {
        let database = directory.appendingPathComponent("data/db")
        try FileManager.default.createDirectory(at: database, withIntermediateDirectories: true)
        for (index, name) in records.enumerated() {
            // Every third beat is premature and followed by a pause, as ventricular ectopic beats are.
            let pattern = [0.85, 0.85, 0.5, 1.2]
            var fixture = SyntheticECG.intervals(
                (0..<48).map { pattern[$0 % pattern.count] }, samplingRate: 360)
            fixture.seed = UInt64(index + 1)
            fixture.amplitudes = fixture.beatTimes.indices.map { $0 % 4 == 3 ? 2.2 : 1 }
            let ecg = fixture.samples().map { Int32(($0 * 200).rounded()) }
            let header = RecordHeader(
                name: name,
                signals: [SignalSpec(fileName: "\(name).dat", format: .packed212, gain: 200, description: "MLII")],
                samplingFrequency: 360)
            try RecordWriter.write(header, samples: [ecg], directory: database.path)
            // Beat k + 1 follows interval k: the beats after a 0.5 s interval are the premature ones.
            var annotations = fixture.peakSamples.enumerated().map { beat, sample in
                Annotation(sample: sample, code: AnnotationCode.code(for: beat % 4 == 3 ? "V" : "N") ?? 1)
            }
            if rhythms {
                let rhythm = AnnotationCode.code(for: "+") ?? 28
                annotations.insert(Annotation(sample: 0, code: rhythm, aux: "(N"), at: 0)
                let middle = fixture.peakSamples[fixture.peakSamples.count / 2] - 1
                annotations.append(Annotation(sample: middle, code: rhythm, aux: "(AFIB"))
                annotations.sort { $0.sample < $1.sample }
            }
            try AnnotationFile.write(
                annotations, record: RecordLocation(directory: database.path, name: name), annotator: "atr")
        }
        try records.map { $0 + "\n" }.joined().write(
            to: database.appendingPathComponent("RECORDS"), atomically: true, encoding: .utf8)
        try """
        stages:
          preprocess:
            uses: ecg.preprocess
            deps: [data/db]
            outs: [data/processed]
          train:
            uses: ecg.train
            deps: [data/processed]
            outs: [models/model.ckpt]
            metrics: [metrics/train.json]
            plots: [plots/loss.svg, plots/accuracy.svg, plots/training.csv]
          evaluate:
            uses: ecg.evaluate
            deps: [data/processed, models/model.ckpt]
            metrics: [metrics/eval.json]
            plots: [plots/confusion.svg, plots/confusion.csv]
          export:
            uses: ecg.export
            deps: [models/model.ckpt]
            outs: [models/ecg_model.onnx]
        """.write(to: directory.appendingPathComponent("pipeline.yaml"), atomically: true, encoding: .utf8)
        let stages = directory.appendingPathComponent("stages")
        try FileManager.default.createDirectory(at: stages, withIntermediateDirectories: true)
        try PreprocessTests.defaultParams.write(
            to: stages.appendingPathComponent("preprocess.yaml"), atomically: true, encoding: .utf8)
        try trainParams.write(to: stages.appendingPathComponent("train.yaml"), atomically: true, encoding: .utf8)
        try "threads: 1\n".write(
            to: stages.appendingPathComponent("evaluate.yaml"), atomically: true, encoding: .utf8)
        return Workspace(root: directory, registry: StageRegistry(ECGStageCatalog.stages))
    }

    private func file(_ path: String) throws -> Data { try Data(contentsOf: directory.appendingPathComponent(path)) }

    func testTheChainRunsAndWritesMetricsPlotsAndAModelThenHasNothingToDo() throws {
        let workspace = try makeWorkspace()
        let observer = CollectingObserver()
        let summary = try workspace.repro(ReproOptions(), observer: observer)
        XCTAssertEqual(
            summary.stages(.ran).sorted(), ["evaluate", "export", "preprocess", "train"], "\(observer.lines)")
        let eval = try JSONSerialization.jsonObject(with: file("metrics/eval.json")) as? [String: Any]
        XCTAssertEqual(
            Set(eval?.keys.map { $0 } ?? []), ["split", "n", "accuracy", "macro_f1", "per_class", "confusion"])
        XCTAssertEqual(eval?["split"] as? String, "records")
        let perClass = eval?["per_class"] as? [String: [String: Any]]
        XCTAssertEqual(Set(perClass?.keys.map { $0 } ?? []), ["N", "S", "V", "F", "Q"])
        XCTAssertEqual(Set(perClass?["V"]?.keys.map { $0 } ?? []), ["se", "ppv", "f1", "support"])
        XCTAssertGreaterThan(
            eval?["accuracy"] as? Double ?? 0, 0.9,
            "premature, taller V beats are plain to see; confusion \(eval?["confusion"] ?? "none")")
        let train = try JSONSerialization.jsonObject(with: file("metrics/train.json")) as? [String: Any]
        XCTAssertEqual((train?["epochs"] as? [Any])?.count, 15)
        for plot in ["loss.svg", "accuracy.svg", "confusion.svg"] {
            let text = String(decoding: try file("plots/" + plot), as: UTF8.self)
            XCTAssertTrue(text.contains("<svg"), plot)
        }
        XCTAssertTrue(observer.lines.contains { $0.hasPrefix("epoch 15/15:") })
        XCTAssertEqual(try workspace.repro(ReproOptions(), observer: CollectingObserver()).stages(.ran), [])
    }

    func testEvaluateScoresEachReferenceRhythmAndTheFalseSRateInsideAtrialFibrillation() throws {
        let workspace = try makeWorkspace(rhythms: true)
        _ = try workspace.repro(ReproOptions(), observer: CollectingObserver())
        let eval = try XCTUnwrap(try JSONSerialization.jsonObject(with: file("metrics/eval.json")) as? [String: Any])
        let perRhythm = try XCTUnwrap(eval["per_rhythm"] as? [String: [String: Any]])
        XCTAssertEqual(Set(perRhythm.keys), ["N", "AFIB"])
        let counts = perRhythm.values.compactMap { $0["n"] as? Int }
        XCTAssertEqual(counts.reduce(0, +), eval["n"] as? Int, "every test beat has a rhythm here")
        let afibClasses = try XCTUnwrap(perRhythm["AFIB"]?["classes"] as? [String: [String: Any]])
        let afibNormal = try XCTUnwrap(afibClasses["N"]?["support"] as? Int)
        XCTAssertEqual(eval["afib_normal_beats"] as? Int, afibNormal)
        let rate = try XCTUnwrap(eval["afib_false_s_rate"] as? Double)
        XCTAssertTrue((0...1).contains(rate))
        XCTAssertNotNil(eval["per_class"], "the earlier keys stay")
    }

    func testDS1CrossValidationScoresEachFoldOnDS1OnlyAndKeepsAModelOfAllDS1() throws {
        let params = Self.trainParams.replacingOccurrences(of: "split: records", with: "split: ds1-cv")
            .replacingOccurrences(of: "cv_folds: 5", with: "cv_folds: 2")
            .replacingOccurrences(of: "epochs: 15", with: "epochs: 3")
        // 101 106 108 109 are DS1; 100 is DS2 and must never be scored.
        let workspace = try makeWorkspace(
            trainParams: params, records: ["100", "101", "106", "108", "109"], rhythms: true)
        let observer = CollectingObserver()
        _ = try workspace.repro(ReproOptions(), observer: observer)
        let eval = try XCTUnwrap(try JSONSerialization.jsonObject(with: file("metrics/eval.json")) as? [String: Any])
        XCTAssertEqual(eval["split"] as? String, "ds1-cv")
        let folds = try XCTUnwrap(eval["folds"] as? [[String: Any]])
        XCTAssertEqual(folds.count, 2)
        let scored = folds.flatMap { $0["records"] as? [String] ?? [] }
        XCTAssertEqual(scored.sorted(), ["101", "106", "108", "109"])
        let dataset = try BeatDatasetFile.read(directory.appendingPathComponent("data/processed/beats.bin"))
        let ds1Beats = dataset.recordIndex.filter { dataset.records[Int($0)].name != "100" }.count
        XCTAssertLessThan(ds1Beats, dataset.count)
        XCTAssertEqual(eval["n"] as? Int, ds1Beats)
        XCTAssertEqual(folds.compactMap { $0["n"] as? Int }.reduce(0, +), ds1Beats)
        let mean = try XCTUnwrap(eval["cv_mean"] as? [String: Double])
        let foldAccuracies = folds.compactMap { $0["accuracy"] as? Double }
        XCTAssertEqual(mean["accuracy"] ?? -1, foldAccuracies.reduce(0, +) / 2, accuracy: 1e-12)
        XCTAssertNotNil((eval["cv_sd"] as? [String: Double])?["accuracy"])
        XCTAssertNotNil(eval["per_rhythm"], "pooled over the folds")
        XCTAssertTrue(observer.lines.contains { $0.contains("fold 2/2: epoch 3/3") }, "\(observer.lines)")
        XCTAssertTrue(observer.lines.contains { $0.contains("accuracy over the folds") }, "\(observer.lines)")
    }

    /// `pipe repro -f -s --no-run-cache train`: the training again, nothing else.
    private static var retrainOnly: ReproOptions {
        var options = ReproOptions()
        options.force = true
        options.useRunCache = false
        options.targets = ["train"]
        options.singleItem = true
        return options
    }

    func testTheSameParamsAndThreadsGiveABitIdenticalCheckpoint() throws {
        let workspace = try makeWorkspace()
        _ = try workspace.repro(ReproOptions(), observer: CollectingObserver())
        let first = try file("models/model.ckpt")
        let options = Self.retrainOnly
        _ = try workspace.repro(options, observer: CollectingObserver())
        XCTAssertEqual(try file("models/model.ckpt"), first)
    }

    func testRecorderAugmentationWithAtrialFeaturesIsBitIdenticalAndChangesTheModel() throws {
        let augmented = Self.trainParams.replacingOccurrences(
            of: "features: window+rr", with: "features: window+rr+rhythm+p"
        ).replacingOccurrences(of: "augment_recorder: 0", with: "augment_recorder: 0.5")
        let workspace = try makeWorkspace(trainParams: augmented)
        let observer = CollectingObserver()
        _ = try workspace.repro(ReproOptions(), observer: observer)
        XCTAssertTrue(
            observer.lines.contains { $0.contains("recorder augmentation 0.5 of the beats") }, "\(observer.lines)")
        let first = try file("models/model.ckpt")
        let checkpoint = try Checkpoint.read(from: directory.appendingPathComponent("models/model.ckpt"))
        XCTAssertEqual(checkpoint.featureCount, 18)
        XCTAssertTrue(
            checkpoint.metadata["feature_names"]?.hasSuffix("p_residual p_local_correlation p_local_peak") ?? false)
        let options = Self.retrainOnly
        _ = try workspace.repro(options, observer: CollectingObserver())
        XCTAssertEqual(try file("models/model.ckpt"), first, "the same params and threads: the same bits")
        try augmented.replacingOccurrences(of: "augment_recorder: 0.5", with: "augment_recorder: 0").write(
            to: directory.appendingPathComponent("stages/train.yaml"), atomically: true, encoding: .utf8)
        _ = try workspace.repro(options, observer: CollectingObserver())
        XCTAssertNotEqual(try file("models/model.ckpt"), first, "the augmented windows changed the training")
    }

    func testABadRecorderRateNamesTheKey() throws {
        let message = try trainMessage(
            Self.trainParams.replacingOccurrences(of: "augment_rates: [128, 250, 360]", with: "augment_rates: [128, 2]")
        )
        XCTAssertTrue(
            message.contains("'augment_rates' must be a list of sampling rates in 50 Hz to 10 kHz"), message)
    }

    func testResumeFinishesAnInterruptedTrainingWithTheSameResult() throws {
        let workspace = try makeWorkspace()
        // While epoch 15 is reported, the last-epoch checkpoint on disk is still epoch 14's: keep a copy of it, as a
        // training killed during epoch 15 would leave behind.
        let last = directory.appendingPathComponent(".cache/resume/train.ckpt")
        let saved = directory.appendingPathComponent("epoch2.ckpt")
        let observer = CollectingObserver()
        observer.onMetrics = { step in
            if step == 15 { try? FileManager.default.copyItem(at: last, to: saved) }
        }
        _ = try workspace.repro(ReproOptions(), observer: observer)
        let uninterrupted = try file("models/model.ckpt")
        XCTAssertEqual(try Checkpoint.read(from: saved).epoch, 13, "0-based: the fourteenth epoch")
        XCTAssertFalse(FileManager.default.fileExists(atPath: last.path), "a finished training removes its state")
        try FileManager.default.moveItem(at: saved, to: last)
        let options = Self.retrainOnly
        let resumed = CollectingObserver()
        _ = try workspace.repro(options, observer: resumed)
        XCTAssertTrue(resumed.lines.contains { $0.hasPrefix("resuming after epoch 14 of 15") }, "\(resumed.lines)")
        XCTAssertFalse(resumed.lines.contains { $0.hasPrefix("epoch 14/15") })
        XCTAssertEqual(try file("models/model.ckpt"), uninterrupted)
    }

    func testTheExportedGraphGivesTheSwiftModelsLogits() throws {
        let workspace = try makeWorkspace()
        _ = try workspace.repro(ReproOptions(), observer: CollectingObserver())
        let model = try Model(
            checkpoint: try Checkpoint.read(from: directory.appendingPathComponent("models/model.ckpt")))
        let onnx = try ONNXModel(contentsOf: directory.appendingPathComponent("models/ecg_model.onnx"))
        XCTAssertEqual(onnx.metadata["class_names"], "N S V F Q")
        XCTAssertEqual(onnx.metadata["window"], "187")
        XCTAssertEqual(onnx.metadata["features"], "window+rr")
        let dataset = try BeatDatasetFile.read(directory.appendingPathComponent("data/processed/beats.bin"))
        let count = min(64, dataset.count)
        let windows = Array(dataset.windows.prefix(count * 187))
        let k = model.featureCount  // a prefix of the dataset's features (FeatureSet)
        XCTAssertEqual(k, 8)
        let features = (0..<count).flatMap { beat in
            dataset.features[(beat * dataset.featureCount)..<(beat * dataset.featureCount + k)]
        }
        let expected = try model.predict(windows: windows, features: features, count: count)
        let outputs = try onnx.run(inputs: [
            "beats": Tensor(shape: [count, 1, 187], floats: windows),
            "rr": Tensor(shape: [count, k], floats: features),
        ])
        let logits = outputs["logits"]?.floats ?? []
        XCTAssertEqual(logits.count, expected.count)
        for (a, b) in zip(logits, expected) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    }

    /// The exported file passes `onnx.checker` and onnxruntime gives the trained Swift model's logits on 1,000
    /// beats. Runs where `PIPE_PYTHON` (else `python3`) has onnx, onnxruntime and numpy.
    func testOnnxRuntimeAcceptsTheExportAndAgreesWithTheSwiftModel() throws {
        let python = ProcessInfo.processInfo.environment["PIPE_PYTHON"] ?? "python3"
        guard (try? runPython(python, ["-c", "import onnx, onnxruntime, numpy"]).status) == 0 else {
            throw XCTSkip("needs Python with onnx, onnxruntime and numpy (set PIPE_PYTHON)")
        }
        let workspace = try makeWorkspace()
        _ = try workspace.repro(ReproOptions(), observer: CollectingObserver())
        let model = try Model(
            checkpoint: try Checkpoint.read(from: directory.appendingPathComponent("models/model.ckpt")))
        let dataset = try BeatDatasetFile.read(directory.appendingPathComponent("data/processed/beats.bin"))
        let count = 1_000
        let k = model.featureCount  // a prefix of the dataset's features (FeatureSet)
        let stride = dataset.featureCount
        var windows: [Float] = []
        var features: [Float] = []
        for beat in 0..<count {
            let source = beat % dataset.count
            windows += dataset.windows[(source * 187)..<((source + 1) * 187)]
            features += dataset.features[(source * stride)..<(source * stride + k)]
        }
        let beatsURL = directory.appendingPathComponent("beats.f32")
        let rrURL = directory.appendingPathComponent("rr.f32")
        let logitsURL = directory.appendingPathComponent("logits.f32")
        try windows.withUnsafeBytes { try Data($0).write(to: beatsURL) }
        try features.withUnsafeBytes { try Data($0).write(to: rrURL) }
        let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/onnx_check.py")
        let (status, output) = try runPython(
            python,
            [
                scripts.path, directory.appendingPathComponent("models/ecg_model.onnx").path,
                "--input", "beats=\(beatsURL.path):\(count),1,187", "--input", "rr=\(rrURL.path):\(count),\(k)",
                "--output", "logits=\(logitsURL.path)",
            ])
        XCTAssertEqual(status, 0, output)
        guard status == 0 else { return }
        let reference = try Data(contentsOf: logitsURL).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let expected = try model.predict(windows: windows, features: features, count: count)
        XCTAssertEqual(reference.count, expected.count)
        var largest: Float = 0
        for (a, b) in zip(reference, expected) { largest = max(largest, abs(a - b)) }
        XCTAssertLessThanOrEqual(largest, 1e-4, "onnxruntime vs the Swift model over \(count) beats")
    }

    private func runPython(_ python: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// The message of a train stage that reads an empty directory (no beats.bin) with these params: a config
    /// error, checked when the params are read, comes before any data is.
    private func trainMessage(_ trainParams: String) throws -> String {
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("data/processed"), withIntermediateDirectories: true)
        try """
        stages:
          train:
            uses: ecg.train
            deps: [data/processed]
            outs: [models/model.ckpt]
        """.write(to: directory.appendingPathComponent("pipeline.yaml"), atomically: true, encoding: .utf8)
        let stages = directory.appendingPathComponent("stages")
        try FileManager.default.createDirectory(at: stages, withIntermediateDirectories: true)
        try trainParams.write(to: stages.appendingPathComponent("train.yaml"), atomically: true, encoding: .utf8)
        let workspace = Workspace(root: directory, registry: StageRegistry(ECGStageCatalog.stages))
        return try workspace.repro(ReproOptions(), observer: CollectingObserver()).results
            .first { $0.stage == "train" }?.message ?? ""
    }

    func testAnUnknownLayerOptionNamesTheFileLineAndLayerBeforeAnyDataIsRead() throws {
        let message = try trainMessage(
            Self.trainParams.replacingOccurrences(
                of: "{type: conv1d, out: 4, kernel: 5, padding: 2}", with: "{type: conv1d, out: 4, kernel: 5, strid: 2}"
            ))
        XCTAssertTrue(
            message.contains(
                "stages/train.yaml:4: architectures.tiny[0]: layer 'conv1d' has unknown option 'strid' "
                    + "(allowed: kernel, out, padding, stride)"), message)
    }

    func testAnUnknownLayerTypeNamesItsPlaceInTheArchitecture() throws {
        let message = try trainMessage(Self.trainParams.replacingOccurrences(of: "- relu", with: "- rleu"))
        XCTAssertTrue(
            message.contains("stages/train.yaml:6: architectures.tiny[2]: unknown layer type 'rleu'"), message)
    }

    func testAMissingLayerOptionAndABadValueAreNamed() throws {
        let missing = try trainMessage(
            Self.trainParams.replacingOccurrences(of: "{type: linear, out: 8}", with: "{type: linear}"))
        XCTAssertTrue(
            missing.contains("stages/train.yaml:11: architectures.tiny[7]: layer 'linear' needs option 'out'"), missing)
        let invalid = try trainMessage(
            Self.trainParams.replacingOccurrences(of: "{type: dropout, p: 0.1}", with: "{type: dropout, p: 1.5}"))
        XCTAssertTrue(
            invalid.contains("stages/train.yaml:13: architectures.tiny[9]: layer 'dropout' option 'p' = 1.5"), invalid)
    }

    func testAnUnknownOptimizerOrScheduleNamesTheFileLineAndKey() throws {
        let optimizer = try trainMessage(
            Self.trainParams.replacingOccurrences(of: "optimizer: adamw", with: "optimizer: sgd"))
        XCTAssertTrue(
            optimizer.contains("stages/train.yaml:19: 'optimizer' must be adam or adamw (found 'sgd')"), optimizer)
        let schedule = try trainMessage(
            Self.trainParams.replacingOccurrences(of: "schedule: cosine", with: "schedule: linear"))
        XCTAssertTrue(
            schedule.contains("stages/train.yaml:21: 'schedule' must be constant, step or cosine (found 'linear')"),
            schedule)
    }

    func testAnUnknownArchitectureOrLayerIsAClearError() throws {
        let workspace = try makeWorkspace(
            trainParams: Self.trainParams.replacingOccurrences(of: "architecture: tiny", with: "architecture: huge"))
        let message =
            try workspace.repro(ReproOptions(), observer: CollectingObserver()).results
            .first { $0.stage == "train" }?.message ?? ""
        XCTAssertTrue(message.contains("architecture 'huge' is not in 'architectures' (tiny)"), message)
    }
}
