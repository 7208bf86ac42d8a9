import ContentStore
import Foundation
import Transport
import XCTest

@testable import RemoteStorage

/// The examples of AWS's "Signature Calculations for the Authorization Header" page (S3 API reference,
/// sig-v4-header-based-auth): the same credentials, bucket, date and region, and the published results.
final class S3SignatureTests: XCTestCase {
    private let signer = SignatureV4(
        credentials: Credentials(
            accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1")
    /// 20130524T000000Z
    private let date = Date(timeIntervalSince1970: 1_369_353_600)

    private func url(_ text: String) throws -> URL { try XCTUnwrap(URL(string: text)) }

    private func value(_ name: String, in request: HTTPRequest) -> String? {
        request.headers.first { $0.name.lowercased() == name }?.value
    }

    func testGetObjectWithARangeMatchesAWSExample() throws {
        var request = HTTPRequest(
            method: "GET", url: try url("https://examplebucket.s3.amazonaws.com/test.txt"),
            headers: [("Range", "bytes=0-9")])
        signer.sign(&request, payloadSHA256: SignatureV4.emptyPayloadSHA256, date: date)
        XCTAssertEqual(
            value("authorization", in: request),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        XCTAssertEqual(value("x-amz-date", in: request), "20130524T000000Z")
        XCTAssertEqual(value("x-amz-content-sha256", in: request), SignatureV4.emptyPayloadSHA256)
        XCTAssertNil(value("x-amz-security-token", in: request))
    }

    func testGetObjectCanonicalRequestAndStringToSignMatchAWSExample() throws {
        var request = HTTPRequest(
            method: "GET", url: try url("https://examplebucket.s3.amazonaws.com/test.txt"),
            headers: [("Range", "bytes=0-9")])
        request.headers.append(("x-amz-content-sha256", SignatureV4.emptyPayloadSHA256))
        request.headers.append(("x-amz-date", "20130524T000000Z"))
        let canonical = signer.canonicalRequest(request, payloadSHA256: SignatureV4.emptyPayloadSHA256)
        XCTAssertEqual(
            canonical.text,
            """
            GET
            /test.txt

            host:examplebucket.s3.amazonaws.com
            range:bytes=0-9
            x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            x-amz-date:20130524T000000Z

            host;range;x-amz-content-sha256;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        XCTAssertEqual(
            signer.stringToSign(canonicalRequest: canonical.text, date: AmzDate(date)),
            """
            AWS4-HMAC-SHA256
            20130524T000000Z
            20130524/us-east-1/s3/aws4_request
            7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
            """)
    }

    func testPutObjectWithAnEncodedKeyAndExtraHeadersMatchesAWSExample() throws {
        let payload = "Welcome to Amazon S3."
        let payloadSHA256 = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        XCTAssertEqual(Digest.of(payload).hex, payloadSHA256)
        // The key `test$file.text`: `$` is legal in a URL path but AWS's encoding makes it %24.
        var request = HTTPRequest(
            method: "PUT", url: try url("https://examplebucket.s3.amazonaws.com/test$file.text"),
            headers: [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
            body: .bytes(Array(payload.utf8)))
        signer.sign(&request, payloadSHA256: payloadSHA256, date: date)
        XCTAssertEqual(
            value("authorization", in: request),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                + "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
                + "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    func testListObjectsWithQueryParametersMatchesAWSExample() throws {
        // Written out of order: the canonical query sorts them.
        var request = HTTPRequest(
            method: "GET", url: try url("https://examplebucket.s3.amazonaws.com/?prefix=J&max-keys=2"))
        signer.sign(&request, payloadSHA256: SignatureV4.emptyPayloadSHA256, date: date)
        XCTAssertEqual(
            value("authorization", in: request),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                + "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
                + "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    func testBareQueryParameterIsCanonicalisedWithAnEmptyValueAsInAWSLifecycleExample() throws {
        var request = HTTPRequest(method: "GET", url: try url("https://examplebucket.s3.amazonaws.com/?lifecycle"))
        signer.sign(&request, payloadSHA256: SignatureV4.emptyPayloadSHA256, date: date)
        XCTAssertEqual(
            value("authorization", in: request),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                + "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
                + "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    func testSessionTokenIsSentAndSigned() throws {
        let withToken = SignatureV4(
            credentials: Credentials(accessKeyID: "AKID", secretAccessKey: "secret", sessionToken: "TOKEN/+="),
            region: "eu-west-1")
        var request = HTTPRequest(method: "HEAD", url: try url("http://127.0.0.1:9000/bucket/objects/ab/cd"))
        withToken.sign(&request, payloadSHA256: SignatureV4.emptyPayloadSHA256, date: date)
        XCTAssertEqual(value("x-amz-security-token", in: request), "TOKEN/+=")
        let authorization = try XCTUnwrap(value("authorization", in: request))
        XCTAssertTrue(authorization.contains("Credential=AKID/20130524/eu-west-1/s3/aws4_request"), authorization)
        XCTAssertTrue(
            authorization.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token"),
            authorization)
    }

    func testSigningTwiceReplacesTheSignatureHeaders() throws {
        var request = HTTPRequest(method: "GET", url: try url("https://examplebucket.s3.amazonaws.com/test.txt"))
        signer.sign(&request, payloadSHA256: SignatureV4.emptyPayloadSHA256, date: date)
        signer.sign(&request, payloadSHA256: SignatureV4.emptyPayloadSHA256, date: date.addingTimeInterval(60))
        XCTAssertEqual(request.headers.filter { $0.name == "Authorization" }.count, 1)
        XCTAssertEqual(value("x-amz-date", in: request), "20130524T000100Z")
    }

    func testHostHeaderKeepsANonDefaultPortAsTheClientSendsIt() throws {
        var request = HTTPRequest(method: "GET", url: try url("http://127.0.0.1:9000/bucket/key"))
        request.headers.append(("x-amz-date", "20130524T000000Z"))
        let canonical = signer.canonicalRequest(request, payloadSHA256: SignatureV4.unsignedPayload)
        XCTAssertTrue(canonical.text.contains("\nhost:127.0.0.1:9000\n"), canonical.text)
        let standard = HTTPRequest(method: "GET", url: try url("https://example.com:443/key"))
        XCTAssertTrue(
            signer.canonicalRequest(standard, payloadSHA256: "x").text.contains("\nhost:example.com\n"))
    }

    func testURIEncodingFollowsAWSRules() {
        XCTAssertEqual(AWSURIEncoding.encode("AZaz09-._~"), "AZaz09-._~")
        XCTAssertEqual(AWSURIEncoding.encode("a b+c/d$é"), "a%20b%2Bc%2Fd%24%C3%A9")
        XCTAssertEqual(AWSURIEncoding.encodePath("team cache/objects/ab/cd"), "team%20cache/objects/ab/cd")
        XCTAssertEqual(SignatureV4.canonicalPath("/a%20b/c+d"), "/a%20b/c%2Bd")
        XCTAssertEqual(SignatureV4.canonicalPath(""), "/")
        XCTAssertEqual(
            SignatureV4.canonicalQuery("prefix=objects/&list-type=2&uploads"), "list-type=2&prefix=objects%2F&uploads=")
    }

    func testCanonicalHeaderValuesAreTrimmedAndSpacesFolded() {
        XCTAssertEqual(SignatureV4.canonicalHeaderValue("  a   b  c "), "a b c")
    }

    func testSignerNeverPrintsTheSecret() {
        for text in [String(describing: signer), String(reflecting: signer), "\(signer)"] {
            XCTAssertFalse(text.contains("wJalrXUtnFEMI"), text)
            XCTAssertTrue(text.contains("AKIAIOSFODNN7EXAMPLE"), text)
        }
        var dumped = ""
        dump(signer, to: &dumped)
        XCTAssertFalse(dumped.contains("wJalrXUtnFEMI"), dumped)
    }

    func testContentMD5IsBase64OfMD5() {
        // RFC 1321's test vector "abc" = 900150983cd24fb0d6963f7d28e17f72.
        XCTAssertEqual(contentMD5(Array("abc".utf8)), "kAFQmDzST7DWlj99KOF/cg==")
    }
}
