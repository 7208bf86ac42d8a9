import Foundation

/// One output as the run-cache remembers it.
public struct CachedOutput: Equatable, Sendable {
    public var path: String
    public var digest: Digest
    public var isDirectory: Bool

    public init(path: String, digest: Digest, isDirectory: Bool) {
        self.path = path
        self.digest = digest
        self.isDirectory = isDirectory
    }
}

/// Stage signature → the outputs that stage produced: `.cache/runs/ab/cdef…`, one small text file each.
public final class RunCache: @unchecked Sendable {
    static let header = "pipe-run-cache 1"
    public let directory: URL

    public init(cacheDirectory: URL) {
        directory = cacheDirectory.appendingPathComponent("runs")
    }

    func entryURL(_ signature: Digest) -> URL {
        let hex = signature.hex
        return directory.appendingPathComponent(String(hex.prefix(2))).appendingPathComponent(String(hex.dropFirst(2)))
    }

    /// Remembers what a stage with this signature produced (written atomically).
    public func record(signature: Digest, outputs: [CachedOutput]) throws {
        var text = Self.header + "\n"
        for output in outputs.sorted(by: { $0.path < $1.path }) {
            text += "\(output.digest.hex) \(output.isDirectory ? "d" : "f") \(output.path)\n"
        }
        try AtomicFile.write(Data(text.utf8), to: entryURL(signature))
    }

    /// The outputs recorded for `signature`, or nil when it was never seen.
    public func lookup(signature: Digest) throws -> [CachedOutput]? {
        let url = entryURL(signature)
        guard FileStat.at(url.path) != nil else { return nil }
        return try Self.parse(try readFile(url), path: url.path)
    }

    /// Every signature with an entry, by walking `.cache/runs/`.
    public func allSignatures() -> [Digest] {
        var result: [Digest] = []
        guard let folders = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return result }
        for folder in folders where folder.utf8.count == 2 {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path + "/" + folder)) ?? []
            for name in names { if let digest = Digest(hex: folder + name) { result.append(digest) } }
        }
        return result
    }

    /// The file holding the entry of `signature` (which may not exist).
    public func entryPath(_ signature: Digest) -> String { entryURL(signature).path }

    /// Installs an entry read from elsewhere (a remote) after checking that it parses.
    public func install(_ data: Data, signature: Digest, origin: String) throws {
        _ = try Self.parse(data, path: origin)
        try AtomicFile.write(data, to: entryURL(signature))
    }

    public func remove(_ signature: Digest) {
        unlink(entryURL(signature).path)
    }

    /// Parses an entry's bytes; `path` names it in errors.
    public static func parse(_ data: Data, path: String) throws -> [CachedOutput] {
        let text = String(decoding: data, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)[...]
        guard lines.first == Substring(Self.header) else {
            throw ContentStoreError.malformedRunCacheEntry(path: path, reason: "missing header")
        }
        lines = lines.dropFirst()
        return try lines.map { line in
            let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, let digest = Digest(hex: String(fields[0])), fields[1] == "d" || fields[1] == "f"
            else { throw ContentStoreError.malformedRunCacheEntry(path: path, reason: "bad line '\(line)'") }
            return CachedOutput(path: String(fields[2]), digest: digest, isDirectory: fields[1] == "d")
        }
    }
}
