import ContentStore
import Foundation

/// A `sha256sum`-style list (`SHA256SUMS.txt` on PhysioNet): one `HEX  NAME` (or `HEX *NAME`, or `HEX NAME`)
/// line per file.
struct SHA256SumList: Equatable {
    /// Where the list came from, for messages (`https://…/SHA256SUMS.txt`).
    var origin: String
    private(set) var digests: [String: Digest] = [:]

    init(parsing data: Data, origin: String) throws {
        self.origin = origin
        // `\.isNewline`, not "\n": a CRLF is one Character in Swift, so splitting on "\n" would not split it.
        let lines = String(decoding: data, as: UTF8.self).split(
            omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        for (index, line) in lines.enumerated() {
            if line.allSatisfy(\.isWhitespace) || line.hasPrefix("#") { continue }
            let hex = line.prefix(64)
            var name = line.dropFirst(64)
            guard name.first == " " || name.first == "\t", let digest = Digest(hex: hex.lowercased()) else {
                throw FetchError.malformedSumList(list: origin, line: index + 1, text: String(line))
            }
            name = name.drop { $0 == " " || $0 == "\t" }
            if name.hasPrefix("*") { name = name.dropFirst() }
            if name.hasPrefix("./") { name = name.dropFirst(2) }
            guard !name.isEmpty else {
                throw FetchError.malformedSumList(list: origin, line: index + 1, text: String(line))
            }
            if digests[String(name)] == nil { digests[String(name)] = digest }
        }
    }

    /// The expected digest of `file`; throws when the list has none, because an unverified file is never kept.
    func digest(for file: String) throws -> Digest {
        guard let digest = digests[file] else { throw FetchError.missingSum(file: file, list: origin) }
        return digest
    }

    /// `sha256sum -c`-compatible lines for `files`, in the order given.
    static func lines(_ files: [(name: String, digest: Digest)]) -> String {
        files.map { "\($0.digest.hex)  \($0.name)\n" }.joined()
    }
}

/// A PhysioNet `RECORDS` file: one record name per line.
enum RecordsList {
    static func parse(_ data: Data, origin: String) throws -> [String] {
        let names = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        for name in names where !isSafeRelativePath(name) { throw FetchError.unsafeName(name: name, list: origin) }
        return names
    }

    /// A relative path that stays inside the directory it is joined to.
    static func isSafeRelativePath(_ path: String) -> Bool {
        !path.isEmpty && !path.hasPrefix("/") && !path.contains("\0")
            && !path.split(separator: "/", omittingEmptySubsequences: false).contains { $0 == ".." || $0.isEmpty }
    }
}
