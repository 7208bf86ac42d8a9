import ContentStore
import Foundation

/// Runs `body(index)` for `0..<count` on `jobs` threads of its own (network transfers block, so they need
/// threads, not the cores Dispatch would share out). The first error stops the others from starting new
/// items and is rethrown once all have stopped.
func runConcurrently(count: Int, jobs: Int, _ body: @escaping @Sendable (Int) throws -> Void) throws {
    guard count > 0 else { return }
    let state = WorkQueueState()
    let workers = max(1, min(jobs, count))
    let group = DispatchGroup()
    for _ in 0..<workers {
        group.enter()
        let thread = Thread {
            defer { group.leave() }
            while let index = state.next(limit: count) {
                do { try body(index) } catch {
                    state.fail(error)
                    return
                }
            }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
    if let error = state.firstError { throw error }
}

private final class WorkQueueState: @unchecked Sendable {
    private let lock = NSLock()
    private var nextIndex = 0
    private(set) var firstError: Error?

    func next(limit: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard firstError == nil, nextIndex < limit else { return nil }
        nextIndex += 1
        return nextIndex - 1
    }

    func fail(_ error: Error) {
        lock.lock()
        if firstError == nil { firstError = error }
        lock.unlock()
    }
}

/// Objects and bytes moved so far, shared by the transfer threads, drawn at most ten times a second.
public final class SyncProgress: @unchecked Sendable {
    public let verb: String
    private let emit: (String) -> Void
    private let lock = NSLock()
    private let started = Date()
    private var lastDrawn = Date.distantPast
    private var totalObjects = 0
    private var totalBytes: Int64 = 0
    public private(set) var objects = 0
    public private(set) var bytes: Int64 = 0

    public init(verb: String, emit: @escaping (String) -> Void) {
        self.verb = verb
        self.emit = emit
    }

    public var elapsed: TimeInterval { Date().timeIntervalSince(started) }

    func expect(objects count: Int, bytes size: Int64) {
        lock.lock()
        totalObjects += count
        totalBytes += size
        lock.unlock()
    }

    func transferred(_ count: Int) { update { bytes += Int64(count) } }

    func objectDone() { update { objects += 1 } }

    private func update(_ change: () -> Void) {
        lock.lock()
        change()
        let now = Date()
        guard now.timeIntervalSince(lastDrawn) >= 0.1 else {
            lock.unlock()
            return
        }
        lastDrawn = now
        let seconds = max(now.timeIntervalSince(started), 0.001)
        let line =
            "\(verb) \(objects)/\(totalObjects) objects, \(formatBytes(bytes))"
            + (totalBytes > 0 ? " of \(formatBytes(totalBytes))" : "")
            + ", \(formatBytes(Int64(Double(bytes) / seconds)))/s"
        lock.unlock()
        emit(line)
    }
}
