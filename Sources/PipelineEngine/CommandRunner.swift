import ContentStore
import Dispatch
import Foundation
import SystemFacts

#if canImport(Glibc)
import Glibc
#endif

/// Runs a stage's shell command in its own process group, streaming its merged stdout and stderr line by
/// line, and remembering the group in `.cache/children` so that a repro killed with -9 does not leave a
/// command running behind the next one: the next repro kills what is listed there before it starts.
final class CommandRunner: @unchecked Sendable {
    let workspace: URL
    let childrenFile: URL
    private let lock = NSLock()
    /// Running commands by process group (the leader's pid): the leader's start time and the command's token.
    private var running: [pid_t: (startTicks: Int64?, token: String)] = [:]
    /// Set once pipe itself is interrupted: the interrupt handler owns the exit from then on.
    private var interrupted = false

    init(workspace: URL, cacheDirectory: URL) {
        self.workspace = workspace
        self.childrenFile = cacheDirectory.appendingPathComponent("children")
    }

    /// Kills the process groups a previous, killed repro left behind. Call while holding the workspace lock.
    /// Only groups recognisably its own are signalled (`ChildGroup.isLeftover`); anything else written in the
    /// file, by an older pipe or by anyone, is left alone.
    func killLeftovers() {
        guard let text = try? String(contentsOf: childrenFile, encoding: .utf8) else { return }
        for line in text.split(separator: "\n") {
            ChildGroup(line: line)?.killLeftover(of: workspace.path)
        }
        unlink(childrenFile.path)
    }

    /// Kills every command still running (on SIGINT/SIGTERM of pipe itself).
    func killAll() {
        lock.lock()
        interrupted = true
        let groups = running
        lock.unlock()
        for group in groups.keys { kill(-group, SIGKILL) }
    }

    /// Runs `/bin/sh -c command` in the workspace; returns its exit status (128 + signal when killed).
    func run(_ command: String, environment: [String: String], onLine: (String) -> Void) throws -> Int32 {
        // Pipe creation, close-on-exec marking and spawn happen under one lock, so a command spawned by a
        // parallel stage never inherits this command's pipe (which would hold its end-of-file back).
        lock.lock()
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            lock.unlock()
            throw StageRunError.cannotStartCommand(
                command: command, step: "create a pipe", reason: String(cString: strerror(errno)))
        }
        let readEnd = fds[0]
        let writeEnd = fds[1]
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        sigaddset(&defaultSignals, SIGPIPE)
        sigaddset(&defaultSignals, SIGINT)
        sigaddset(&defaultSignals, SIGTERM)
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        // The outer shell enters the workspace, then hands the command to a shell of its own, unchanged.
        let arguments = ["/bin/sh", "-c", "cd -- \"$1\" && exec /bin/sh -c \"$2\"", "pipe", workspace.path, command]
        // Inherited by everything the command starts, so that its leftovers are recognised after pipe dies.
        let token = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        let environmentLines =
            environment.map { "\($0.key)=\($0.value)" } + ["\(ChildGroup.tokenVariable)=\(token)"]
        var pid: pid_t = 0
        let status = withCStrings(arguments) { argv in
            withCStrings(environmentLines) { envp in posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp) }
        }
        close(writeEnd)
        if status == 0 {
            // Taken now, while pipe is the parent: the child cannot have been reaped, so the pid is still its.
            running[pid] = (ProcessStat.startTicks(of: pid), token)
            saveChildren()
        }
        lock.unlock()
        guard status == 0 else {
            close(readEnd)
            throw StageRunError.cannotStartCommand(
                command: command, step: "start /bin/sh", reason: String(cString: strerror(status)))
        }

        readLines(from: readEnd, onLine: onLine)
        close(readEnd)

        var waitStatus: Int32 = 0
        while waitpid(pid, &waitStatus, 0) < 0 && errno == EINTR {}
        // Reap what the command left in its group (background jobs) so nothing writes outputs later.
        kill(-pid, SIGKILL)
        lock.lock()
        running[pid] = nil
        saveChildren()
        let stopping = interrupted
        lock.unlock()
        // A command killed because pipe was interrupted is not a stage failure: without this wait the repro
        // could report it and exit 1 before the interrupt handler exits with 128 + the signal.
        while stopping { sleep(60) }
        let exited = waitStatus & 0x7f == 0
        return exited ? (waitStatus >> 8) & 0xff : 128 + (waitStatus & 0x7f)
    }

    private func saveChildren() {
        let text = running.keys.sorted().compactMap { group in
            running[group].map {
                ChildGroup(group: group, startTicks: $0.startTicks, token: $0.token, workspace: workspace.path).line
            }
        }.joined(separator: "\n")
        if running.isEmpty {
            unlink(childrenFile.path)
        } else {
            try? Data((text + "\n").utf8).write(to: childrenFile)
        }
    }

    private func readLines(from fd: Int32, onLine: (String) -> Void) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                break
            }
            if count == 0 { break }
            pending.append(contentsOf: buffer[0..<count])
            while let newline = pending.firstIndex(of: 10) {
                onLine(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeSubrange(...newline)
            }
        }
        if !pending.isEmpty { onLine(String(decoding: pending, as: UTF8.self)) }
    }
}

/// A `cmd:` stage's process group as `.cache/children` records it, one per line:
/// `GROUP START_TICKS TOKEN WORKSPACE` — the group's id (its leader's pid), the leader's start time in clock ticks
/// after boot (`-` where unknown), a random token the command and everything it starts inherit as
/// `PIPE_CHILD_TOKEN`, and the workspace it ran in. Enough for a later repro to signal only its own leftovers,
/// never a process that merely has a pid once written there.
struct ChildGroup: Equatable {
    static let tokenVariable = "PIPE_CHILD_TOKEN"

    var group: pid_t
    var startTicks: Int64?
    var token: String
    var workspace: String

    var line: String { "\(group) \(startTicks.map(String.init) ?? "-") \(token) \(workspace)" }

    init(group: pid_t, startTicks: Int64?, token: String, workspace: String) {
        self.group = group
        self.startTicks = startTicks
        self.token = token
        self.workspace = workspace
    }

    /// Parses a line; nil for anything else, including the bare pids older pipes wrote (unverifiable).
    init?(line: Substring) {
        let fields = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard fields.count == 4, let group = pid_t(fields[0]), group > 1, !fields[2].isEmpty, !fields[3].isEmpty
        else { return nil }
        self.group = group
        startTicks = Int64(fields[1])
        token = String(fields[2])
        workspace = String(fields[3])
    }

    /// Kills what is left of this command when it belongs to a repro of `workspace`. While the leader lives it
    /// must be the process that was started (the same start time, so its pid was not reused) and still lead the
    /// group: the whole group is killed. Once the leader is gone (or a zombie), its group id may since name
    /// another group, so only the members carrying this command's token are killed.
    func killLeftover(of workspace: String) {
        for target in leftovers(of: workspace) { kill(target, SIGKILL) }
    }

    /// What `killLeftover` would signal: the whole group (its id negated) or the members carrying the token.
    func leftovers(of workspace: String) -> [pid_t] {
        guard workspace == self.workspace else { return [] }
        let leaderState = ProcessStat.fields(of: group)?.first
        if kill(group, 0) == 0 || errno == EPERM, leaderState != "Z", leaderState != "X" {
            guard let recorded = startTicks, ProcessStat.startTicks(of: group) == recorded, getpgid(group) == group
            else {
                return []
            }
            return [-group]
        }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        let marker = Data("\(Self.tokenVariable)=\(token)".utf8)
        return names.compactMap { name in
            guard let pid = pid_t(name), ProcessStat.fields(of: pid)?.dropFirst(2).first == Substring(String(group)),
                let environment = FileManager.default.contents(atPath: "/proc/\(pid)/environ"),
                environment.split(separator: 0).contains(where: { Data($0) == marker })
            else { return nil }
            return pid
        }
    }
}

/// Calls `body` with a NULL-terminated C array of C strings.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}

/// One `pipe repro` per workspace: an exclusive `flock` on `.cache/lock`, released by the kernel when the
/// process dies however it dies. The file holds the holder's pid and command line for the refusal message.
final class WorkspaceLock {
    let url: URL
    private var fd: Int32 = -1

    init(cacheDirectory: URL) {
        url = cacheDirectory.appendingPathComponent("lock")
    }

    func acquire(wait: Bool, description: String) throws {
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ReproError.cannotLock(lockFile: url.path, reason: String(cString: strerror(errno))) }
        while flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            if errno == EINTR { continue }
            let code = errno
            let holder = (try? String(contentsOf: url, encoding: .utf8))?.trimmingCharacters(
                in: .whitespacesAndNewlines)
            close(fd)
            fd = -1
            if code == EWOULDBLOCK {
                throw ReproError.workspaceLocked(
                    lockFile: url.path, holder: holder.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown holder")
            }
            throw ReproError.cannotLock(lockFile: url.path, reason: String(cString: strerror(code)))
        }
        ftruncate(fd, 0)
        let text = "pid \(getpid()): \(description)\n"
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    func release() {
        guard fd >= 0 else { return }
        ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}

/// Turns SIGINT and SIGTERM into an orderly stop: commands run in their own process groups, so the
/// terminal's Ctrl-C does not reach them; this kills them, reports, and exits with 128 + the signal.
/// Nothing half-done is committed: outputs enter the cache and the lock only after a stage succeeds.
final class InterruptHandler {
    private var sources: [DispatchSourceSignal] = []

    init(runner: CommandRunner, observer: ReproObserver) {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                runner.killAll()
                observer.warning("interrupted by signal \(signalNumber); stopped running stages")
                exit(128 + signalNumber)
            }
            source.resume()
            sources.append(source)
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

/// An exclusive `flock` on `DIRECTORY/<signature hex>`, held while one workspace of several sharing a run-cache
/// runs a stage with that signature (see `ReproOptions.signatureLockDirectory`). Waits for another holder;
/// the kernel releases it however the holder dies.
final class SignatureLock {
    private var fd: Int32

    init(directory: URL, signature: Digest) throws {
        let url = directory.appendingPathComponent(signature.hex)
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ReproError.cannotLock(lockFile: url.path, reason: String(cString: strerror(errno))) }
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let reason = String(cString: strerror(errno))
            close(fd)
            fd = -1
            throw ReproError.cannotLock(lockFile: url.path, reason: reason)
        }
    }

    func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}
