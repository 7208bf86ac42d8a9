import Foundation

/// What can go wrong while hashing, storing or restoring content. Every case names the file.
public enum ContentStoreError: Error, CustomStringConvertible, Equatable {
    case cannotRead(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case notFound(path: String)
    case corruptObject(path: String, expected: String, actual: String)
    case missingObject(digest: String)
    case malformedManifest(path: String, line: Int, reason: String)
    case malformedRunCacheEntry(path: String, reason: String)
    case unsupportedFileType(path: String)
    /// A symlink in an output that points outside the workspace (or is absolute); `target` is what it says.
    case symlinkOutsideWorkspace(path: String, target: String)
    /// A name that a manifest line cannot hold (a newline in it).
    case unsupportedName(path: String)
    /// The file system ran out of space (or the user's quota) while `path` was written; `needed` is the size of what
    /// was being written and `available` what is left once its partial copy is gone, where known.
    case noSpace(path: String, needed: Int64?, available: Int64?)

    public var description: String {
        switch self {
        case .cannotRead(let path, let reason): return "\(path): cannot read: \(reason)"
        case .cannotWrite(let path, let reason): return "\(path): cannot write: \(reason)"
        case .notFound(let path): return "\(path): no such file or directory"
        case .corruptObject(let path, let expected, let actual):
            return "\(path): corrupt cache object: expected sha256 \(expected), found \(actual)"
        case .missingObject(let digest): return "cache object \(digest) is missing"
        case .malformedManifest(let path, let line, let reason):
            return "\(path):\(line): malformed directory manifest: \(reason)"
        case .malformedRunCacheEntry(let path, let reason): return "\(path): malformed run-cache entry: \(reason)"
        case .unsupportedFileType(let path): return "\(path): not a regular file, directory or symlink"
        case .symlinkOutsideWorkspace(let path, let target):
            return "\(path): a symlink to '\(target)', outside the workspace; pipe never follows such a link and "
                + "stores symlinks only when they point inside the workspace"
        case .unsupportedName(let path): return "\(path.debugDescription): a file name with a newline cannot be stored"
        case .noSpace(let path, let needed, let available):
            var space = needed.map { ": it needs \(formatBytes($0))" } ?? ""
            if let available { space += (space.isEmpty ? ": " : ", ") + "\(formatBytes(available)) free" }
            return "\(path): no space left on device\(space); free some space and run again "
                + "(the partial copy was removed)"
        }
    }
}

/// The text of the current `errno`.
func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
