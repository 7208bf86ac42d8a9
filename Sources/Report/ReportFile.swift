import Foundation

/// Writing the page so that a failure leaves nothing behind: a temporary file beside the target, then a rename.
public enum ReportFile {
    /// Writes `html` to `url` atomically; throws `ReportError.unwritableOutput` naming `display`.
    public static func write(_ html: String, to url: URL, display: String) throws {
        let folder = url.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue
        else { throw ReportError.unwritableOutput(path: display, reason: "the folder \(folder.path) does not exist") }
        var target = isDirectory
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &target), target.boolValue {
            throw ReportError.unwritableOutput(path: display, reason: "it is a directory")
        }
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: temporary.path, contents: Data(html.utf8)) else {
            try? FileManager.default.removeItem(at: temporary)
            throw ReportError.unwritableOutput(
                path: display, reason: "cannot create a file in \(folder.path) (\(String(cString: strerror(errno))))")
        }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw ReportError.unwritableOutput(path: display, reason: reason)
        }
    }
}
