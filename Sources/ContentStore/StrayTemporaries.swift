import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A temporary that one of pipe's atomic writes left behind: its process died between making and renaming it.
public struct StrayTemporary: Equatable, Sendable {
    public var path: String
    /// Seconds since it last changed.
    public var age: TimeInterval
    public var isDirectory: Bool
}

/// Finding and removing the temporaries pipe's writers leave when they die: `.NAME.tmp-PID-N` beside a file
/// written by `AtomicFile`, `.NAME.pipe-tmp-PID-N` and `.NAME.pipe-old-PID-N` beside an output a checkout was
/// replacing (its staging copy and the old content), and anything in `.cache/tmp/`.
public enum StrayTemporaries {
    private static let markers = [".tmp-", ".pipe-tmp-", ".pipe-old-"]

    /// Whether `name` is one of the temporaries pipe makes beside a file (a dot, a name, a marker, `PID-N`).
    public static func isTemporaryName(_ name: String) -> Bool {
        guard name.hasPrefix(".") else { return false }
        return markers.contains { marker in
            guard let range = name.range(of: marker, options: .backwards),
                range.lowerBound > name.index(after: name.startIndex)
            else { return false }
            let numbers = name[range.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
            return numbers.count == 2 && numbers.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
        }
    }

    /// The temporaries that last changed more than `minimumAge` ago: those named as pipe names them directly
    /// inside `besideFiles`, and every entry of `wholeFolders` (`.cache/tmp/`).
    public static func find(
        besideFiles: [URL], wholeFolders: [URL], olderThan minimumAge: TimeInterval, now: Date = Date()
    ) -> [StrayTemporary] {
        var found: [StrayTemporary] = []
        var seen = Set<String>()
        let folders = (wholeFolders.map { ($0, false) } + besideFiles.map { ($0, true) }).filter {
            seen.insert($0.0.standardizedFileURL.path).inserted
        }
        for (folder, namedOnly) in folders {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            for name in names.sorted() where !namedOnly || isTemporaryName(name) {
                let path = folder.appendingPathComponent(name).path
                guard let stat = FileStat.at(path) else { continue }
                let age = now.timeIntervalSince1970 - Double(stat.mtimeNanoseconds) / 1e9
                guard age > minimumAge else { continue }
                found.append(StrayTemporary(path: path, age: age, isDirectory: stat.kind == .directory))
            }
        }
        return found
    }

    /// Removes a temporary (a staging folder with everything in it).
    public static func remove(_ temporary: StrayTemporary) throws {
        do {
            try FileManager.default.removeItem(atPath: temporary.path)
        } catch {
            throw ContentStoreError.cannotWrite(path: temporary.path, reason: error.localizedDescription)
        }
    }
}
