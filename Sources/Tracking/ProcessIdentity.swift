import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A process as the run store remembers it: pid, plus its start time so a reused pid is not mistaken for it.
struct ProcessIdentity: Equatable, Sendable {
    var pid: Int32
    var startTicks: Int64?

    static var current: ProcessIdentity {
        let pid = getpid()
        return ProcessIdentity(pid: pid, startTicks: ProcessIdentity.startTicks(of: pid))
    }

    /// Field 22 of `/proc/PID/stat` (start time in clock ticks after boot); nil where there is no procfs.
    static func startTicks(of pid: Int32) -> Int64? {
        guard let fields = statFields(of: pid), fields.count > 19 else { return nil }
        return Int64(fields[19])
    }

    /// The fields of `/proc/PID/stat` after the parenthesised command name (field 3, the state, first).
    private static func statFields(of pid: Int32) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// True while the process exists, is not a zombie, and (where known) started when the recorded one did.
    var isAlive: Bool {
        guard pid > 0 else { return false }
        if kill(pid, 0) != 0 && errno != EPERM { return false }
        if let fields = ProcessIdentity.statFields(of: pid) {
            if fields.first == "Z" || fields.first == "X" { return false }
            if let recorded = startTicks, fields.count > 19, let now = Int64(fields[19]), now != recorded {
                return false
            }
        }
        return true
    }
}

/// Facts about the machine and user, read once per run.
enum HostFacts {
    static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "unknown" }
        return String(cString: buffer)
    }

    static var userName: String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name {
            return String(cString: name)
        }
        return ProcessInfo.processInfo.environment["USER"] ?? String(geteuid())
    }
}
