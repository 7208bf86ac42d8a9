import ECGFixtures
import Foundation
import Tracking
import WFDB
import XCTest

extension ExperimentFixture {
    /// The built-in ECG stages (fetch → preprocess → train → evaluate → export) on a small synthetic database
    /// committed under `source/` (three records written with the WFDB writer, every fourth beat a premature,
    /// taller V beat), with a tiny network trained for two epochs so that one training takes about a second.
    static func ecgPipeline() throws -> ExperimentFixture {
        // An empty PIPE_MITDB_SOURCE keeps a suite-wide setting (the full database) from overriding `source`.
        try ExperimentFixture(
            watching: [
                "stages/train.yaml", "data/mitdb/RECORDS", "data/processed/beats.bin", "models/model.ckpt",
                "metrics/eval.json", "models/ecg_model.onnx",
            ],
            environment: ["PIPE_MITDB_SOURCE": ""]
        ) { harness in
            try harness.write(".gitignore", ".cache/\nruns/\ndata/\nmodels/\nmetrics/\nplots/\n")
            try writeSyntheticDatabase(in: harness.root.appendingPathComponent("source"))
            try harness.write("pipeline.yaml", ecgPipelineYAML)
            try harness.write("stages/fetch.yaml", "source: source\nrecords: all\nextensions: [hea, dat, atr]\n")
            try harness.write("stages/preprocess.yaml", ecgPreprocessParams)
            try harness.write("stages/train.yaml", ecgTrainParams)
            try harness.write("stages/evaluate.yaml", "threads: 1\n")
        }
    }

    private static func writeSyntheticDatabase(in directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var sums = ""
        for (index, name) in ["100", "101", "102"].enumerated() {
            let pattern = [0.85, 0.85, 0.5, 1.2]
            var fixture = SyntheticECG.intervals((0..<48).map { pattern[$0 % pattern.count] }, samplingRate: 360)
            fixture.seed = UInt64(index + 1)
            fixture.amplitudes = fixture.beatTimes.indices.map { $0 % 4 == 3 ? 2.2 : 1 }
            let header = RecordHeader(
                name: name,
                signals: [SignalSpec(fileName: "\(name).dat", format: .packed212, gain: 200, description: "MLII")],
                samplingFrequency: 360)
            try RecordWriter.write(
                header, samples: [fixture.samples().map { Int32(($0 * 200).rounded()) }], directory: directory.path)
            let annotations = fixture.peakSamples.enumerated().map { beat, sample in
                Annotation(sample: sample, code: AnnotationCode.code(for: beat % 4 == 3 ? "V" : "N") ?? 1)
            }
            try AnnotationFile.write(annotations, record: RecordLocation(directory: directory.path, name: name))
            for fileExtension in ["hea", "dat", "atr"] {
                sums += "\(try sha256(directory.appendingPathComponent("\(name).\(fileExtension)")))  "
                sums += "\(name).\(fileExtension)\n"
            }
        }
        try Data("100\n101\n102\n".utf8).write(to: directory.appendingPathComponent("RECORDS"))
        try Data(sums.utf8).write(to: directory.appendingPathComponent("SHA256SUMS"))
    }

    private static func sha256(_ file: URL) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [file.path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
    }

    static let ecgPipelineYAML = """
        stages:
          fetch:
            uses: ecg.fetch
            outs: [data/mitdb]
          preprocess:
            uses: ecg.preprocess
            deps: [data/mitdb]
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

        """

    static let ecgPreprocessParams = """
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

    static let ecgTrainParams = """
        # A network small enough for a debug build.
        architecture: tiny
        architectures:
          tiny:
            - {type: conv1d, out: 4, kernel: 5, padding: 2}
            - relu
            - {type: maxpool, kernel: 4}
            - flatten
            - concat_features
            - {type: linear, out: 8}
            - relu
            - {type: linear, out: 5}
        features: window+rr
        epochs: 2
        batch_size: 16
        lr: 0.01
        optimizer: adam
        weight_decay: 0
        schedule: constant
        step_size: 1
        gamma: 0.5
        clip_norm: null
        class_weights: none
        seed: 1
        threads: 1
        split: records
        test_fraction: 0.2
        split_seed: 42
        train_records: ["100", "101"]
        test_records: ["102"]
        cv_folds: 5
        validation_fraction: 0.2
        patience: null
        resume: false
        augment_invert: 0
        augment_recorder: 0
        augment_scale: 0
        augment_wander: 0
        augment_noise: 0
        augment_rates: null

        """
}

/// `pipe exp run/apply` through the built binary on the built-in ECG stages (`ExperimentFixture.ecgPipeline`).
final class ECGExperimentsCLITests: XCTestCase {
    var fixture: ExperimentFixture!
    var harness: BinaryHarness { fixture.harness }

    override func setUpWithError() throws { fixture = try ExperimentFixture.ecgPipeline() }
    override func tearDown() { fixture = nil }

    func testASeedSweepTrainsTwiceOnSharedDataAndAppliesWithStatusUpToDate() throws {
        let before = try fixture.mainState()
        let result = try fixture.exp(["run", "-S", "train.seed=1,2", "-j", "2", "--name", "seeds"])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.contains("sweep 'seeds': 2 experiments over train.seed"), result.stdout)

        let store = try RunStore.open(workspace: harness.root)
        let runs = try store.sweepRuns(name: "seeds")
        XCTAssertEqual(runs.map(\.tag.experiment).sorted(), [1, 2])
        XCTAssertTrue(runs.allSatisfy { $0.status == .succeeded }, "\(runs)")
        var ran: [String: Int] = [:]
        var models: [String: String] = [:]
        for run in runs {
            let detail = try store.show(run.run)
            let seed = try XCTUnwrap(detail.params.first { $0.key == "train.seed" })
            XCTAssertTrue(seed.overridden)
            XCTAssertEqual(seed.value, String(run.tag.experiment))
            XCTAssertEqual(detail.params.first { $0.key == "train.epochs" }?.overridden, false)
            let loss = try XCTUnwrap(detail.metrics.first { $0.stage == "train" && $0.steps.count == 2 })
            XCTAssertTrue(loss.last.isFinite, "a history of two epochs: \(loss)")
            XCTAssertNotNil(detail.metrics.first { $0.key == "eval.accuracy" }, "\(detail.metrics.map(\.key))")
            for stage in detail.stages where stage.outcome == .ran { ran[stage.stage, default: 0] += 1 }
            models[seed.value] = detail.artifacts.first { $0.path == "models/model.ckpt" }?.sha256
        }
        XCTAssertEqual(ran["fetch"], 1, "fetched once; the other experiment restored it from the run-cache")
        XCTAssertEqual(ran["preprocess"], 1, "the shared upstream stage ran once for the two experiments")
        XCTAssertEqual(ran["train"], 2)
        XCTAssertEqual(Set(models.values.compactMap { $0 }).count, 2, "each seed trained its own model: \(models)")
        XCTAssertEqual(
            try fixture.mainState(), before, "the main workspace's lock, outputs, params and git status are untouched")

        let chosen = try XCTUnwrap(runs.first { $0.tag.experiment == 2 })
        let applied = try fixture.exp(["apply", chosen.run.rawValue])
        XCTAssertEqual(applied.status, 0, applied.stdout + applied.stderr)
        XCTAssertTrue(try harness.read("stages/train.yaml").contains("\nseed: 2\n"))
        XCTAssertTrue(try harness.read("stages/train.yaml").hasPrefix("# A network small"), "comments kept")
        let status = try harness.run(["status", "--check"], environment: fixture.environment)
        XCTAssertEqual(status.status, 0, status.stdout + status.stderr)
        XCTAssertEqual(
            try store.sweepRuns(name: "seeds").count, 2, "apply restored the outputs without starting a run")
    }
}
