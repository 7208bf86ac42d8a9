import COpenSSL
import Foundation

/// A SHA-256 digest, compared and stored as its 64-character lowercase hex form.
public struct Digest: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let hex: String

    /// Accepts only a well-formed 64-character lowercase hex string.
    public init?(hex: String) {
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            return nil
        }
        self.hex = hex
    }

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.hex = Self.hexString(bytes)
    }

    /// Lowercase hex of any bytes (an HMAC, an MD5), two characters a byte.
    public static func hexString<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let table = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(table[Int(byte >> 4)])
            out.append(table[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }
    public var short: String { String(hex.prefix(8)) }
    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.hex < rhs.hex }

    /// The digest of a byte string.
    public static func of(_ data: Data) -> Digest {
        let hasher = SHA256Hasher()
        hasher.update(data)
        return hasher.finish()
    }

    /// The digest of a UTF-8 string.
    public static func of(_ string: String) -> Digest { of(Data(string.utf8)) }
}

/// SHA-256 as OpenSSL's default provider implements it, fetched once for the process: given `EVP_sha256()`, OpenSSL
/// 3 looks the algorithm up in its provider tables at every `EVP_DigestInit_ex` (5.3 M of a no-op `pipe status`'s
/// 57.5 M instructions, one init per file hashed). The legacy handle stays as the fallback when the fetch fails.
nonisolated(unsafe) private let sha256Algorithm: OpaquePointer? = EVP_MD_fetch(nil, "SHA256", nil) ?? EVP_sha256()

/// Streams bytes through OpenSSL's EVP SHA-256. A class, so that its EVP context has one owner: `deinit` frees it
/// on every way out of the caller (an error between `init` and `finish` included), and no copy can free it twice.
public final class SHA256Hasher {
    private let context: OpaquePointer?

    public init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, sha256Algorithm, nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ data: Data) {
        data.withUnsafeBytes { update($0) }
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    /// The digest of the bytes given since `init` or the last `finish`; the hasher then starts over, empty.
    public func finish() -> Digest {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        EVP_DigestInit_ex(context, sha256Algorithm, nil)
        return out.withUnsafeBufferPointer { Digest(bytes: UnsafeBufferPointer(rebasing: $0[0..<Int(length)])) }
    }
}
