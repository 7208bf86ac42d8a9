import ArgumentParser
import ContentStore
import ECGInference
import ECGSignal
import ExitCodes
import Experiments
import NeuralNet
import ONNX
import PipelineEngine
import QRSCommands
import RemoteStorage
import Report
import Tracking
import TrackingExport
import Transport
import WFDB
import XCTest

@testable import ECGStages
@testable import PipeCLI

/// Every kind of error that can end a command, with the exit code it had when PipeCommand listed the bad-input
/// types by hand: 2 for those nine and more, 1 for every other domain error, by kind for remotes and MLflow.
final class ExitCodeTests: XCTestCase {
    private struct PlainError: Error {}

    private let table: [(error: Error, code: Int32)] = [
        (PipelineError.noStages(file: "pipeline.yaml"), 2),
        (ContentStoreError.notFound(path: "data/x"), 2),
        (WFDBError.fileNotFound(file: "100.hea"), 2),
        (TrackingError.storeCorrupt(path: "runs/pipe.db", detail: "not a database"), 2),
        (BeatExtractionError.recordTooShort(record: "100", samples: 10, window: 187), 2),
        (BeatClassifierError.unusableModel(path: "model.onnx", reason: "no input"), 2),
        (ONNXError.invalidModel("no graph"), 2),
        (InferenceError.emptyRange(record: "100", from: 5, to: 5), 2),
        (InferenceInputError.noRecords(path: "RECORDS", reason: "it lists no records"), 2),
        (QRSAnalysisError.unusableSamplingRate(header: "100.hea", rate: 0), 2),
        (ExperimentError.gridTooLarge(count: 10_000, limit: 1_000), 2),
        (ReportError.noRuns(selection: "all"), 2),
        (RemoteError.badConfiguration("no remote named 'x'"), 2),
        (RemoteError.unreachable(remote: "s3://bucket", reason: "connection refused"), 1),
        (MLflowError.noTrackingURI, 2),
        (MLflowError.run(id: "r1", server: "http://127.0.0.1:5000", underlying: .badURI(uri: "x", reason: "y")), 2),
        (MLflowError.unreachable(server: "http://127.0.0.1:5000", reason: "connection refused"), 1),
        (ReproError.lockOutOfDate(stages: ["train"]), 1),
        (StageRunError.missingOutput(stage: "train", path: "model.ckpt"), 1),
        (StageFailure("the loss is NaN"), 1),
        (BeatDatasetError.notADataset(path: "beats.bin"), 1),
        (ClassificationReportError.lengthMismatch(truth: 3, predicted: 2), 1),
        (SVGPlotError.badConfusionMatrix("not square"), 1),
        (FetchError.network(url: "https://physionet.org/", reason: "timed out"), 1),
        (CheckpointError.truncated(file: "model.ckpt", section: "weights"), 1),
        (ArchitectureError.missingOption(layer: "conv1d", option: "kernel"), 1),
        (ModelError.invalidBatch(0), 1),
        (ECGSignalError.unknownClass("X"), 1),
        (TransportError.network(url: "https://example.org/", reason: "reset"), 1),
        (PlainError(), 1),
        (ValidationError("--jobs must be at least 1"), 2),
        (ExitCode(3), 3),
    ]

    func testEachErrorKindExitsWithTheCodeItHadBefore() {
        for (error, code) in table {
            XCTAssertEqual(PipeCommand.ending(for: error).code, code, "\(type(of: error)): \(error)")
        }
    }

    func testADomainErrorIsPrintedAsErrorAndItsDescription() {
        for (error, _) in table where error is ExitCodeProviding {
            XCTAssertEqual(PipeCommand.ending(for: error).message, "error: \(error)", "\(type(of: error))")
        }
        XCTAssertEqual(PipeCommand.ending(for: ExitCode(3)).message, "", "an exit code prints nothing")
    }
}
