import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What stands at a path, from `stat(2)`, in the words error messages use.
public enum FileKind {
    /// What stands at `path` (symlinks followed) when it is there but is not a regular file: "a directory",
    /// "a FIFO", "a device", "a socket". Nil when nothing is there or it is a regular file.
    public static func nonRegular(at path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFCHR, S_IFBLK: return "a device"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }
}

/// A process as `/proc/PID/stat` describes it; nil everywhere when there is no procfs or no such process.
public enum ProcessStat {
    /// The fields after the parenthesised command name: state, ppid, pgrp, … (field 3 of proc(5) first). The name
    /// may hold spaces and parentheses, so the split starts after the last `)`.
    public static func fields(of pid: Int32) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// Field 22: the start time in clock ticks after boot, which tells a reused pid from the process recorded.
    public static func startTicks(of pid: Int32) -> Int64? {
        guard let fields = fields(of: pid), fields.count > 19 else { return nil }
        return Int64(fields[19])
    }
}
