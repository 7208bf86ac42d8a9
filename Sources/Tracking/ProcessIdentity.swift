import Foundation
import SystemFacts

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
        return ProcessIdentity(pid: pid, startTicks: ProcessStat.startTicks(of: pid))
    }

    /// True while the process exists, is not a zombie, and (where known) started when the recorded one did.
    var isAlive: Bool {
        guard pid > 0 else { return false }
        if kill(pid, 0) != 0 && errno != EPERM { return false }
        if let fields = ProcessStat.fields(of: pid) {
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
