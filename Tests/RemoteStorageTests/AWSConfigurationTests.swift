import Foundation
import RemoteStorage
import XCTest

/// The AWS CLI's lookup of credentials, region and endpoint, from an environment and a home directory made
/// in the test (never the real ones).
final class AWSConfigurationTests: XCTestCase {
    private var home = ""

    override func setUpWithError() throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("aws-config-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: home)
    }

    private func write(_ text: String, to relativePath: String) throws {
        try text.write(toFile: home + "/" + relativePath, atomically: true, encoding: .utf8)
    }

    private func resolve(
        _ environment: [String: String] = [:], endpoint: String? = nil, region: String? = nil
    ) throws -> AWSConfiguration {
        try AWSConfiguration.resolve(
            environment: environment, home: home, remoteEndpoint: endpoint, remoteRegion: region)
    }

    private let credentialsFile = """
        [default]
        aws_access_key_id = AKIADEFAULT
        aws_secret_access_key = default-secret

        # a comment
        [dev]
        aws_access_key_id=AKIADEV
        aws_secret_access_key=dev-secret
        aws_session_token=dev-token
        """

    func testEnvironmentCredentialsComeFirst() throws {
        try write(credentialsFile, to: ".aws/credentials")
        let configuration = try resolve([
            "AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_SESSION_TOKEN": "env-token",
        ])
        XCTAssertEqual(configuration.credentials?.accessKeyID, "AKIAENV")
        XCTAssertEqual(configuration.credentials?.hasSessionToken, true)
        XCTAssertEqual(configuration.credentialSource, "environment")
    }

    func testHalfSetEnvironmentCredentialsAreAnError() {
        XCTAssertThrowsError(try resolve(["AWS_ACCESS_KEY_ID": "AKIAENV"])) { error in
            XCTAssertEqual(
                error as? RemoteError, .badConfiguration("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"))
        }
    }

    func testDefaultProfileOfTheSharedCredentialsFile() throws {
        try write(credentialsFile, to: ".aws/credentials")
        let configuration = try resolve()
        XCTAssertEqual(configuration.credentials?.accessKeyID, "AKIADEFAULT")
        XCTAssertEqual(configuration.credentials?.hasSessionToken, false)
        XCTAssertEqual(configuration.credentialSource, "profile 'default' in \(home)/.aws/credentials")
    }

    func testNamedProfileWithASessionToken() throws {
        try write(credentialsFile, to: ".aws/credentials")
        let configuration = try resolve(["AWS_PROFILE": "dev"])
        XCTAssertEqual(configuration.credentials?.accessKeyID, "AKIADEV")
        XCTAssertEqual(configuration.credentials?.hasSessionToken, true)
    }

    func testCredentialsInTheConfigFileUnderProfileSection() throws {
        try write(
            """
            [profile ci]
            aws_access_key_id = AKIACI
            aws_secret_access_key = ci-secret
            region = eu-central-1
            """, to: ".aws/config")
        let configuration = try resolve(["AWS_PROFILE": "ci"])
        XCTAssertEqual(configuration.credentials?.accessKeyID, "AKIACI")
        XCTAssertEqual(configuration.region, "eu-central-1")
    }

    func testUnknownNamedProfileIsAnError() throws {
        try write(credentialsFile, to: ".aws/credentials")
        XCTAssertThrowsError(try resolve(["AWS_PROFILE": "nope"])) { error in
            XCTAssertTrue((error as? RemoteError)?.isConfigurationError == true, "\(error)")
            XCTAssertTrue("\(error)".contains("'nope'"), "\(error)")
        }
    }

    func testFileLocationsFromTheEnvironment() throws {
        try write(credentialsFile, to: "elsewhere-credentials")
        try write("[profile dev]\nregion = ap-south-1\n", to: "elsewhere-config")
        let configuration = try resolve([
            "AWS_PROFILE": "dev", "AWS_SHARED_CREDENTIALS_FILE": home + "/elsewhere-credentials",
            "AWS_CONFIG_FILE": "~/elsewhere-config",
        ])
        XCTAssertEqual(configuration.credentials?.accessKeyID, "AKIADEV")
        XCTAssertEqual(configuration.region, "ap-south-1")
    }

    func testNoCredentialsAnywhereMeansUnsignedRequests() throws {
        let configuration = try resolve()
        XCTAssertNil(configuration.credentials)
        XCTAssertEqual(configuration.region, "us-east-1")
        XCTAssertNil(configuration.endpoint)
        XCTAssertEqual(configuration.credentialSource, "none (unsigned requests)")
    }

    func testRegionOrderRemoteThenEnvironmentThenProfileThenDefault() throws {
        try write("[default]\nregion = eu-north-1\n", to: ".aws/config")
        let environment = ["AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "eu-west-2"]
        XCTAssertEqual(try resolve(environment, region: "sa-east-1").region, "sa-east-1")
        XCTAssertEqual(try resolve(environment).region, "eu-west-3")
        XCTAssertEqual(try resolve(["AWS_DEFAULT_REGION": "eu-west-2"]).region, "eu-west-2")
        XCTAssertEqual(try resolve().region, "eu-north-1")
        try FileManager.default.removeItem(atPath: home + "/.aws/config")
        XCTAssertEqual(try resolve().region, "us-east-1")
    }

    func testEndpointOrderRemoteThenEnvironmentThenProfile() throws {
        try write(
            """
            [default]
            endpoint_url = http://profile-generic:1
            s3 =
              endpoint_url = http://profile-s3:2
            """, to: ".aws/config")
        let environment = ["AWS_ENDPOINT_URL_S3": "http://env-s3:3", "AWS_ENDPOINT_URL": "http://env-generic:4"]
        XCTAssertEqual(
            try resolve(environment, endpoint: "http://remote:5/").endpoint?.absoluteString, "http://remote:5")
        XCTAssertEqual(try resolve(environment).endpoint?.absoluteString, "http://env-s3:3")
        XCTAssertEqual(
            try resolve(["AWS_ENDPOINT_URL": "http://env-generic:4"]).endpoint?.absoluteString, "http://env-generic:4")
        XCTAssertEqual(try resolve().endpoint?.absoluteString, "http://profile-s3:2")
        try write("[default]\nendpoint_url = http://profile-generic:1\n", to: ".aws/config")
        XCTAssertEqual(try resolve().endpoint?.absoluteString, "http://profile-generic:1")
    }

    func testEndpointFromAServicesSection() throws {
        try write(
            """
            [profile team]
            services = minio

            [services minio]
            s3 =
              endpoint_url = http://minio.internal:9000
            """, to: ".aws/config")
        XCTAssertEqual(try resolve(["AWS_PROFILE": "team"]).endpoint?.absoluteString, "http://minio.internal:9000")
    }

    func testIgnoreConfiguredEndpointsKeepsTheRemotesOwn() throws {
        let environment = ["AWS_ENDPOINT_URL": "http://env:4", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"]
        XCTAssertNil(try resolve(environment).endpoint)
        XCTAssertEqual(
            try resolve(environment, endpoint: "https://r2.example").endpoint?.absoluteString, "https://r2.example")
    }

    func testEndpointThatIsNotAnHTTPURLNamesItsSource() {
        XCTAssertThrowsError(try resolve(["AWS_ENDPOINT_URL": "ftp://nope"])) { error in
            XCTAssertTrue("\(error)".hasPrefix("AWS_ENDPOINT_URL: 'ftp://nope'"), "\(error)")
        }
    }

    func testCredentialsNeverPrintTheirSecret() throws {
        try write(credentialsFile, to: ".aws/credentials")
        let configuration = try resolve(["AWS_PROFILE": "dev"])
        let credentials = try XCTUnwrap(configuration.credentials)
        var dumpedCredentials = ""
        dump(credentials, to: &dumpedCredentials)
        var dumpedConfiguration = ""
        dump(configuration, to: &dumpedConfiguration)
        let renderings = [
            String(describing: credentials), String(reflecting: credentials), "\(credentials)", dumpedCredentials,
            String(describing: configuration), String(reflecting: configuration), dumpedConfiguration,
            String(describing: Optional(credentials)), String(describing: [credentials]),
        ]
        for text in renderings {
            XCTAssertTrue(text.contains("AKIADEV"), text)
            XCTAssertFalse(text.contains("dev-secret"), text)
            XCTAssertFalse(text.contains("dev-token"), text)
        }
    }
}
