import Foundation
import XCTest

@testable import TrackingExport

/// Where the server, the experiment and the credentials come from, and that secrets never show.
final class MLflowSettingsTests: XCTestCase {
    private let workspace = URL(fileURLWithPath: "/tmp/ecg-project", isDirectory: true)

    func testTheFlagWinsOverTheEnvironmentWhichWinsOverPipelineYAML() throws {
        let environment = ["MLFLOW_TRACKING_URI": "http://env:5000"]
        let fromFlag = try MLflowTarget.resolve(
            uri: "http://flag:5000/", experiment: nil, configuredURI: "http://yaml:5000", configuredExperiment: "e",
            workspace: workspace, environment: environment)
        XCTAssertEqual(fromFlag?.server.name, "http://flag:5000")
        XCTAssertEqual(fromFlag?.experiment, "e")
        let fromEnvironment = try MLflowTarget.resolve(
            uri: nil, experiment: nil, configuredURI: "http://yaml:5000", configuredExperiment: nil,
            workspace: workspace, environment: environment)
        XCTAssertEqual(fromEnvironment?.server.name, "http://env:5000")
        XCTAssertEqual(fromEnvironment?.experiment, "ecg-project", "the workspace folder's name by default")
        let fromYAML = try MLflowTarget.resolve(
            uri: nil, experiment: "x", configuredURI: "https://yaml/mlflow", configuredExperiment: "e",
            workspace: workspace, environment: [:])
        XCTAssertEqual(fromYAML?.server.name, "https://yaml/mlflow")
        XCTAssertEqual(fromYAML?.experiment, "x")
        XCTAssertNil(
            try MLflowTarget.resolve(
                uri: nil, experiment: nil, configuredURI: nil, configuredExperiment: nil, workspace: workspace,
                environment: [:]))
    }

    func testATokenIsBearerAndAUserIsBasic() {
        XCTAssertEqual(
            MLflowCredentials.fromEnvironment(["MLFLOW_TRACKING_TOKEN": "t0k", "MLFLOW_TRACKING_USERNAME": "u"])
                .authorization, "Bearer t0k")
        XCTAssertEqual(
            MLflowCredentials.fromEnvironment(["MLFLOW_TRACKING_USERNAME": "u", "MLFLOW_TRACKING_PASSWORD": "p"])
                .authorization, "Basic dTpw")
        XCTAssertNil(MLflowCredentials.fromEnvironment([:]).authorization)
    }

    func testSecretsNeverAppearInDescriptionsOrErrors() {
        let credentials = MLflowCredentials.basic(username: "alice", password: "s3cret-pw")
        XCTAssertFalse(credentials.description.contains("s3cret-pw"))
        XCTAssertFalse(MLflowCredentials.bearer(token: "tok-123").description.contains("tok-123"))
        XCTAssertThrowsError(try MLflowServer(uri: "http://alice:s3cret-pw@host:5000")) { error in
            XCTAssertFalse("\(error)".contains("s3cret-pw"), "\(error)")
            XCTAssertTrue("\(error)".contains("MLFLOW_TRACKING_USERNAME"), "\(error)")
        }
        let refused = MLflowError.unauthorized(
            server: "http://h", endpoint: "runs/create", status: 401, hint: credentials.refusalHint)
        XCTAssertFalse(refused.description.contains("s3cret-pw"))
    }

    func testOnlyHTTPURIsAreTrackingServers() {
        for uri in ["file:///tmp/mlruns", "databricks", "ftp://h", "http://", "sqlite:///x.db"] {
            XCTAssertThrowsError(try MLflowServer(uri: uri), uri) { error in
                XCTAssertTrue((error as? MLflowError)?.isUsageError == true)
            }
        }
    }

    func testPipelineYAMLTrackingSectionIsReadAndChecked() throws {
        let settings = try MLflowPipelineSettings.parse(
            "stages: {}\ntracking:\n  mlflow:\n    uri: http://127.0.0.1:5000\n    experiment: ecg\n",
            file: "pipeline.yaml")
        XCTAssertEqual(settings, MLflowPipelineSettings(uri: "http://127.0.0.1:5000", experiment: "ecg"))
        XCTAssertEqual(
            try MLflowPipelineSettings.parse("stages: {}\n", file: "pipeline.yaml"), MLflowPipelineSettings())
        XCTAssertThrowsError(
            try MLflowPipelineSettings.parse(
                "stages: {}\ntracking:\n  mlflow:\n    uri: http://h\n    token: abc\n", file: "pipeline.yaml")
        ) { error in
            XCTAssertTrue("\(error)".hasPrefix("pipeline.yaml:5:5: "), "\(error)")
            XCTAssertTrue("\(error)".contains("credentials never go in pipeline.yaml"), "\(error)")
        }
        XCTAssertThrowsError(
            try MLflowPipelineSettings.parse("tracking:\n  mlflow:\n    uri: s3://bucket\n", file: "pipeline.yaml")
        ) { error in XCTAssertTrue("\(error)".hasPrefix("pipeline.yaml:3:10: "), "\(error)") }
    }

    func testProxiedArtifactRootsAreRecognised() {
        XCTAssertEqual(
            MLflowClient.proxiedArtifactPath(artifactURI: "mlflow-artifacts:/1/abc/artifacts"), "1/abc/artifacts")
        XCTAssertEqual(
            MLflowClient.proxiedArtifactPath(artifactURI: "mlflow-artifacts://host:5000/1/abc/artifacts"),
            "1/abc/artifacts")
        XCTAssertEqual(
            MLflowClient.proxiedArtifactPath(
                artifactURI: "http://h:5000/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts"), "1/abc/artifacts")
        XCTAssertNil(MLflowClient.proxiedArtifactPath(artifactURI: "/srv/mlruns/1/abc/artifacts"))
        XCTAssertNil(MLflowClient.proxiedArtifactPath(artifactURI: "s3://bucket/1/abc/artifacts"))
    }

    func testErrorsNameTheServerTheRunAndMLflowsErrorCode() {
        let error = MLflowError.run(
            id: "01ABC", server: "http://h:5000",
            underlying: .api(
                server: "http://h:5000", endpoint: "runs/log-batch", status: 400, errorCode: "INVALID_PARAMETER_VALUE",
                message: "bad"))
        XCTAssertEqual(
            error.description,
            "run 01ABC: MLflow server http://h:5000: runs/log-batch failed with HTTP 400 INVALID_PARAMETER_VALUE: bad")
        XCTAssertEqual(error.errorCode, "INVALID_PARAMETER_VALUE")
        XCTAssertFalse(error.isUsageError)
    }
}
