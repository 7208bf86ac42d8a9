import Dispatch
import Foundation

/// Where `parallelMap` runs its workers.
public enum ParallelThreads: Sendable {
    /// libdispatch's pool (`concurrentPerform`): cheap to start, and the threads keep their state between calls
    /// (OpenBLAS's buffers), but shared with the process's other parallel work, so a busy pool may run it serially.
    /// For computation.
    case pool
    /// Threads started for the call (the caller's being one of them), which get their cores whatever else the
    /// process runs. For work that blocks on reads, such as hashing files.
    case dedicated
}

/// Calls `body(index)` once for every index in 0..<count, in parallel on libdispatch's threads (the caller's among
/// them), and returns when all calls are done. Each call must touch only what its index owns. A count of 1 runs
/// inline; a count of 0 or less runs nothing.
public func parallelFor(count: Int, _ body: (_ index: Int) -> Void) {
    guard count > 1 else {
        if count == 1 { body(0) }
        return
    }
    DispatchQueue.concurrentPerform(iterations: count, execute: body)
}

/// Splits 0..<count into `parts` contiguous ranges, part p being count·p/parts ..< count·(p+1)/parts, and runs
/// `body(part, range)` for each non-empty one through `parallelFor(count:)`. The split depends on count and parts
/// only, so work reduced per part and combined in part order gives the same bits on every run.
public func parallelFor(count: Int, parts: Int, _ body: (_ part: Int, _ range: Range<Int>) -> Void) {
    let parts = max(1, min(parts, count))
    parallelFor(count: parts) { part in
        let range = (count * part / parts)..<(count * (part + 1) / parts)
        if !range.isEmpty { body(part, range) }
    }
}

/// [transform(0), …, transform(count − 1)], in index order, computed by up to `workers` workers that each take the
/// next index not yet taken (so items of unequal cost keep every worker busy). `progress(finished)` is called on
/// the worker's thread after each item, with the number of items finished so far.
///
/// Once an item throws, no further index is started; the items already started finish, and the error of the
/// failing item with the lowest index is rethrown: the error a serial loop would have stopped at, whatever the
/// scheduling.
@inlinable
public func parallelMap<Value, Failure: Error>(
    count: Int, workers: Int = ProcessInfo.processInfo.activeProcessorCount, threads: ParallelThreads = .pool,
    progress: (_ finished: Int) -> Void = { _ in }, _ transform: (_ index: Int) throws(Failure) -> Value
) throws(Failure) -> [Value] {
    try parallelMap(
        count: count, workerStates: Array(repeating: (), count: max(1, workers)), threads: threads,
        progress: progress
    ) { (_, index) throws(Failure) -> Value in try transform(index) }
}

/// `parallelMap(count:)` with one worker per element of `workerStates`, each handed its own state with every item
/// it takes (a runtime with its own buffers, say). `workerStates` must not be empty.
@inlinable
public func parallelMap<State, Value, Failure: Error>(
    count: Int, workerStates: [State], threads: ParallelThreads = .pool,
    progress: (_ finished: Int) -> Void = { _ in }, _ transform: (_ state: State, _ index: Int) throws(Failure) -> Value
) throws(Failure) -> [Value] {
    precondition(!workerStates.isEmpty || count <= 0, "parallelMap needs at least one worker state")
    // One worker, or one item: the loop a serial caller would write. Callers that map one small item at a time
    // (a batch of one beat) would otherwise pay for the shared work list on every call.
    if count <= 1 || workerStates.count == 1 {
        var values: [Value] = []
        values.reserveCapacity(max(0, count))
        for index in 0..<max(0, count) {
            values.append(try transform(workerStates[0], index))
            progress(index + 1)
        }
        return values
    }
    let work = ParallelWork<Value, Failure>(count: count)
    runWorkers(min(workerStates.count, max(0, count)), threads: threads) { worker in
        while let index = work.claim() {
            let outcome = Result { () throws(Failure) -> Value in try transform(workerStates[worker], index) }
            progress(work.store(outcome, at: index))
        }
    }
    return try work.values()
}

/// Runs `body(worker)` for each worker in 0..<workers at once and returns when all are done.
@usableFromInline
func runWorkers(_ workers: Int, threads: ParallelThreads, _ body: (_ worker: Int) -> Void) {
    guard workers > 1, threads == .dedicated else { return parallelFor(count: workers, body) }
    withoutActuallyEscaping(body) { body in
        // The threads reach `body` through a holder that lets go of it once they are done: a finished Thread may
        // keep its closure a moment longer, and `body` must not outlive this call.
        let holder = BodyHolder(body)
        let group = DispatchGroup()
        for worker in 1..<workers {
            group.enter()
            let thread = Thread {
                holder.body?(worker)
                group.leave()
            }
            thread.stackSize = 8 << 20  // as the main thread's
            thread.start()
        }
        body(0)
        group.wait()
        holder.body = nil
    }
}

/// A worker body handed to the threads `runWorkers` starts; it is read before each thread signals the group
/// and cleared only after the group's wait.
private final class BodyHolder: @unchecked Sendable {
    var body: ((Int) -> Void)?
    init(_ body: @escaping (Int) -> Void) { self.body = body }
}

/// The indices handed out in order, and one result slot per index.
@usableFromInline
final class ParallelWork<Value, Failure: Error>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<Value, Failure>?]
    private var next = 0
    private var finished = 0
    private var failed = false

    @usableFromInline
    init(count: Int) { slots = Array(repeating: nil, count: count) }

    /// The next index no worker has taken; nil once all are taken or an item has failed.
    @usableFromInline
    func claim() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard !failed, next < slots.count else { return nil }
        next += 1
        return next - 1
    }

    /// Stores an item's outcome; returns how many items have finished.
    @usableFromInline
    func store(_ outcome: Result<Value, Failure>, at index: Int) -> Int {
        lock.lock()
        defer { lock.unlock() }
        slots[index] = outcome
        if case .failure = outcome { failed = true }
        finished += 1
        return finished
    }

    /// The values in index order, or the lowest-indexed failure. Indices are taken in order and every taken one
    /// finishes, so every slot before the first failure (and every slot, without one) is filled.
    @usableFromInline
    func values() throws(Failure) -> [Value] {
        var values: [Value] = []
        values.reserveCapacity(slots.count)
        for (index, slot) in slots.enumerated() {
            guard let slot else { preconditionFailure("parallelMap: item \(index) never ran") }
            values.append(try slot.get())
        }
        return values
    }
}
