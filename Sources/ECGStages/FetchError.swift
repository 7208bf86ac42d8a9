import ContentStore
import Transport

/// Why `ecg.fetch` failed; each message names the URL or file concerned.
enum FetchError: Error, CustomStringConvertible, Equatable {
    /// A transport failure (resolve, connect, TLS, timeout, a body cut short). Worth retrying.
    case network(url: String, reason: String)
    /// The server's certificate did not verify (an untrusted issuer, a wrong host name): not worth retrying.
    case untrustedServer(url: String, reason: String)
    /// The server answered with an error status.
    case httpStatus(url: String, status: Int, reason: String)
    /// The source has no `RECORDS`, or neither `SHA256SUMS.txt` nor `SHA256SUMS`.
    case missingIndex(file: String, source: String)
    case malformedSumList(list: String, line: Int, text: String)
    /// A file to fetch has no line in the sum list, so it could not be verified.
    case missingSum(file: String, list: String)
    case checksumMismatch(file: String, from: String, expected: Digest, actual: Digest)
    case unknownRecord(record: String, list: String)
    /// A record or file name that would leave the output directory (`..`, an absolute path).
    case unsafeName(name: String, list: String)
    case badParam(key: String, problem: String)
    case fileSystem(path: String, reason: String)

    init(_ error: TransportError) {
        switch error {
        case .network(let url, let reason): self = .network(url: url, reason: reason)
        case .untrustedServer(let url, let reason): self = .untrustedServer(url: url, reason: reason)
        case .httpStatus(let url, let status, let reason): self = .httpStatus(url: url, status: status, reason: reason)
        }
    }

    /// Worth another attempt, resuming what was already downloaded.
    var isTransient: Bool {
        switch self {
        case .network: return true
        case .httpStatus(_, let status, _): return status >= 500 || status == 408 || status == 429
        default: return false
        }
    }

    var description: String {
        switch self {
        case .network(let url, let reason): return "cannot fetch \(url): \(reason)"
        case .untrustedServer(let url, let reason): return "cannot fetch \(url): \(reason)"
        case .httpStatus(let url, let status, let reason):
            return "cannot fetch \(url): HTTP \(status)\(reason.isEmpty ? "" : " \(reason)")"
        case .missingIndex(let file, let source): return "no \(file) in the source \(source)"
        case .malformedSumList(let list, let line, let text):
            return "\(list):\(line): expected 'SHA256  NAME', found '\(text.prefix(80))'"
        case .missingSum(let file, let list): return "\(list) has no SHA-256 sum for \(file), so it cannot be verified"
        case .checksumMismatch(let file, let from, let expected, let actual):
            return "SHA-256 mismatch for \(file) (from \(from)): expected \(expected.hex), got \(actual.hex); discarded"
        case .unknownRecord(let record, let list): return "record '\(record)' is not listed in \(list)"
        case .unsafeName(let name, let list): return "\(list) names '\(name)', which leaves the output directory"
        case .badParam(let key, let problem): return "stages param '\(key)': \(problem)"
        case .fileSystem(let path, let reason): return "\(path): \(reason)"
        }
    }
}
