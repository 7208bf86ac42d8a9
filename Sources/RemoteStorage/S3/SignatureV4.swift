import COpenSSL
import ContentStore
import Foundation
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// AWS Signature Version 4 in the `Authorization` header, as S3 checks it.
///
/// The canonical request is made from the request exactly as `HTTPClient` will send it: the path of `url`
/// (each segment decoded and encoded again by AWS's rules, so an already-encoded path is not encoded twice, which
/// S3, unlike other services, does not want), its query (parameters encoded and sorted), and every header of the
/// request plus `host` (the client writes `Host` itself, from the same URL). Headers the client adds later
/// (`User-Agent`, `Content-Length`) are not signed.
///
/// A value type without shared state: safe to use from any number of threads.
public struct SignatureV4: Sendable, CustomStringConvertible {
    /// `x-amz-content-sha256` of a request whose payload is not hashed (S3 then does not check it).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// The SHA-256 of no bytes: the payload hash of a GET, HEAD or DELETE.
    public static let emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    static let algorithm = "AWS4-HMAC-SHA256"

    public let credentials: Credentials
    /// The region of the credential scope: the bucket's (S3 refuses another with AuthorizationHeaderMalformed).
    public let region: String
    public let service: String

    /// A signer for `service` (`s3`) in `region` with `credentials`.
    public init(credentials: Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    public var description: String { "SignatureV4(\(credentials), \(region), \(service))" }

    /// Adds `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token` (with a session token) and
    /// `Authorization` to `request`. `payloadSHA256` is the lowercase hex SHA-256 of the body, or
    /// `unsignedPayload`. Sign each attempt afresh: S3 refuses a signature older than 15 minutes.
    public func sign(_ request: inout HTTPRequest, payloadSHA256: String, date: Date = Date()) {
        let stamp = AmzDate(date)
        request.headers.removeAll { Self.isSignatureHeader($0.name) }
        request.headers.append(("x-amz-date", stamp.dateTime))
        request.headers.append(("x-amz-content-sha256", payloadSHA256))
        if let token = credentials.sessionToken { request.headers.append(("x-amz-security-token", token)) }
        let canonical = canonicalRequest(request, payloadSHA256: payloadSHA256)
        let toSign = stringToSign(canonicalRequest: canonical.text, date: stamp)
        let signature = Digest.hexString(hmacSHA256(key: signingKey(dateStamp: stamp.date), message: toSign))
        let authorization =
            "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope(stamp.date)),"
            + "SignedHeaders=\(canonical.signedHeaders),Signature=\(signature)"
        request.headers.append(("Authorization", authorization))
    }

    // MARK: - The steps, internal for the tests against AWS's published examples

    /// The canonical request and its `SignedHeaders` list.
    func canonicalRequest(_ request: HTTPRequest, payloadSHA256: String) -> (text: String, signedHeaders: String) {
        let components = URLComponents(url: request.url, resolvingAgainstBaseURL: true)
        let path = Self.canonicalPath(components?.percentEncodedPath ?? "")
        let query = Self.canonicalQuery(components?.percentEncodedQuery)
        var headers: [(name: String, value: String)] = [("host", Self.hostHeader(components))]
        for (name, value) in request.headers where name.lowercased() != "host" {
            headers.append((name.lowercased(), Self.canonicalHeaderValue(value)))
        }
        // Sorting is stable, so repeated headers keep their order; S3 wants them joined with commas.
        headers.sort { $0.name < $1.name }
        var merged: [(name: String, value: String)] = []
        for header in headers {
            if let last = merged.last, last.name == header.name {
                merged[merged.count - 1].value = last.value + "," + header.value
            } else {
                merged.append(header)
            }
        }
        let signedHeaders = merged.map(\.name).joined(separator: ";")
        let headerLines = merged.map { "\($0.name):\($0.value)\n" }.joined()
        let text = [request.method, path, query, headerLines, signedHeaders, payloadSHA256].joined(separator: "\n")
        return (text, signedHeaders)
    }

    func stringToSign(canonicalRequest: String, date: AmzDate) -> String {
        [Self.algorithm, date.dateTime, scope(date.date), Digest.of(canonicalRequest).hex].joined(separator: "\n")
    }

    /// HMAC chain over date, region, service and `aws4_request`, keyed by `AWS4` + the secret.
    func signingKey(dateStamp: String) -> [UInt8] {
        var key = hmacSHA256(key: Array(("AWS4" + credentials.secretAccessKey).utf8), message: dateStamp)
        for part in [region, service, "aws4_request"] { key = hmacSHA256(key: key, message: part) }
        return key
    }

    private func scope(_ dateStamp: String) -> String { "\(dateStamp)/\(region)/\(service)/aws4_request" }

    private static func isSignatureHeader(_ name: String) -> Bool {
        ["authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"].contains(name.lowercased())
    }

    /// Each segment decoded, then encoded by `AWSURIEncoding`; `/` kept, and an empty path is `/`.
    static func canonicalPath(_ percentEncodedPath: String) -> String {
        guard !percentEncodedPath.isEmpty else { return "/" }
        return percentEncodedPath.split(separator: "/", omittingEmptySubsequences: false)
            .map { segment in
                AWSURIEncoding.encode(String(segment).removingPercentEncoding ?? String(segment))
            }
            .joined(separator: "/")
    }

    /// Parameters decoded, encoded by `AWSURIEncoding`, sorted by name then value; `name=` for a bare `name`.
    static func canonicalQuery(_ percentEncodedQuery: String?) -> String {
        guard let query = percentEncodedQuery, !query.isEmpty else { return "" }
        let pairs = query.split(separator: "&").map { item -> (String, String) in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func encoded(_ part: Substring) -> String {
                // `+` is a space only in HTML forms; AWS's canonical form reads it as a plus sign.
                AWSURIEncoding.encode(String(part).removingPercentEncoding ?? String(part))
            }
            return (encoded(parts[0]), parts.count > 1 ? encoded(parts[1]) : "")
        }
        return pairs.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// The `Host` header exactly as `HTTPClient` writes it: the port only when it is not the scheme's default.
    static func hostHeader(_ components: URLComponents?) -> String {
        var host = components?.host ?? ""
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let name = host.contains(":") ? "[\(host)]" : host
        let isTLS = components?.scheme?.lowercased() == "https"
        guard let port = components?.port, port != (isTLS ? 443 : 80) else { return name }
        return "\(name):\(port)"
    }

    /// Trimmed, with runs of spaces folded to one.
    static func canonicalHeaderValue(_ value: String) -> String {
        value.trimmingCharacters(in: .whitespaces).split(separator: " ", omittingEmptySubsequences: true)
            .joined(separator: " ")
    }
}

/// AWS's URI encoding: every byte of the UTF-8 form is `%XX` (uppercase hex) except the unreserved characters
/// `A-Z a-z 0-9 - . _ ~`. Foundation's encoders keep more (`$`, `+`, `:`…), which breaks signatures.
public enum AWSURIEncoding {
    public static func encode(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// An object key for a URL path: each `/`-separated segment encoded, the slashes kept.
    public static func encodePath(_ key: String) -> String {
        key.split(separator: "/", omittingEmptySubsequences: false).map { encode(String($0)) }.joined(separator: "/")
    }
}

/// `x-amz-date` (`20130524T000000Z`) and the scope's date (`20130524`), in UTC.
struct AmzDate {
    let dateTime: String
    var date: String { String(dateTime.prefix(8)) }

    init(_ date: Date) {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        dateTime =
            "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }
}

/// HMAC-SHA256 through OpenSSL's one-shot `HMAC`.
func hmacSHA256(key: [UInt8], message: String) -> [UInt8] {
    let data = Array(message.utf8)
    var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    key.withUnsafeBufferPointer { keyBytes in
        data.withUnsafeBufferPointer { dataBytes in
            _ = HMAC(
                EVP_sha256(), keyBytes.baseAddress, Int32(keyBytes.count), dataBytes.baseAddress, dataBytes.count,
                &out, &length)
        }
    }
    return Array(out.prefix(Int(length)))
}

/// The MD5 of `bytes`, base64: the `Content-MD5` that S3 requires on DeleteObjects.
func contentMD5(_ bytes: [UInt8]) -> String {
    var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    bytes.withUnsafeBufferPointer { input in
        _ = EVP_Digest(input.baseAddress, input.count, &out, &length, EVP_md5(), nil)
    }
    return Data(out.prefix(Int(length))).base64EncodedString()
}
