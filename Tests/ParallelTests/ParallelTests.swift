import Foundation
import Parallel
import XCTest

final class ParallelTests: XCTestCase {
    private struct ItemFailure: Error, Equatable {
        let index: Int
    }

    /// Records the indices a parallel loop ran, from any thread.
    private final class Ledger: @unchecked Sendable {
        private let lock = NSLock()
        private var indices: [Int] = []

        func record(_ index: Int) {
            lock.lock()
            indices.append(index)
            lock.unlock()
        }

        var sorted: [Int] {
            lock.lock()
            defer { lock.unlock() }
            return indices.sorted()
        }
    }

    func testMapKeepsInputOrderWhenLaterItemsFinishFirst() {
        // Early items are the slow ones, so they finish last.
        for threads in [ParallelThreads.pool, .dedicated] {
            let squares = parallelMap(count: 40, workers: 4, threads: threads) { index in
                usleep(UInt32(40 - index) * 200)
                return index * index
            }
            XCTAssertEqual(squares, (0..<40).map { $0 * $0 }, "\(threads)")
        }
    }

    func testMapOfNoItemsIsEmptyAndRunsNothing() {
        let ledger = Ledger()
        let none: [Void] = parallelMap(count: 0, workers: 4) { index in ledger.record(index) }
        XCTAssertTrue(none.isEmpty)
        XCTAssertEqual(ledger.sorted, [])
    }

    func testMapOfOneItemRunsItOnTheCallersThread() {
        let caller = Thread.current
        let onCaller = parallelMap(count: 1, workers: 4, threads: .dedicated) { _ in Thread.current == caller }
        XCTAssertEqual(onCaller, [true])
    }

    func testMapRunsEveryItemOnceWithMoreItemsThanWorkers() {
        for threads in [ParallelThreads.pool, .dedicated] {
            let ledger = Ledger()
            let doubled = parallelMap(count: 1000, workers: 3, threads: threads) { index in
                ledger.record(index)
                return 2 * index
            }
            XCTAssertEqual(doubled, (0..<1000).map { 2 * $0 }, "\(threads)")
            XCTAssertEqual(ledger.sorted, Array(0..<1000), "\(threads)")
        }
    }

    func testMapRethrowsTheLowestIndexedFailureEvenWhenALaterOneFailsFirst() {
        for threads in [ParallelThreads.pool, .dedicated] {
            XCTAssertThrowsError(
                try parallelMap(count: 2, workers: 2, threads: threads) { index throws(ItemFailure) -> Int in
                    if index == 0 { usleep(50_000) }  // item 1 fails first in time
                    throw ItemFailure(index: index)
                }
            ) { error in
                XCTAssertEqual(error as? ItemFailure, ItemFailure(index: 0), "\(threads)")
            }
        }
    }

    func testMapStartsNoItemAfterAFailure() {
        let ledger = Ledger()
        XCTAssertThrowsError(
            try parallelMap(count: 10, workers: 1) { index throws(ItemFailure) in
                ledger.record(index)
                if index == 3 { throw ItemFailure(index: index) }
            }
        ) { error in
            XCTAssertEqual(error as? ItemFailure, ItemFailure(index: 3))
        }
        XCTAssertEqual(ledger.sorted, [0, 1, 2, 3])
    }

    func testDedicatedWorkersRunAtOnce() {
        // Each of two items waits for the other to start: only two threads running together finish.
        let started = [DispatchSemaphore(value: 0), DispatchSemaphore(value: 0)]
        let metPartner = parallelMap(count: 2, workers: 2, threads: .dedicated) { index in
            started[index].signal()
            return started[1 - index].wait(timeout: .now() + 10) == .success
        }
        XCTAssertEqual(metPartner, [true, true])
    }

    func testEachWorkerGetsItsOwnStateAndEveryItemOneOfThem() {
        let workerOfItem = parallelMap(count: 200, workerStates: ["a", "b", "c"], threads: .dedicated) { state, _ in
            state
        }
        XCTAssertEqual(workerOfItem.count, 200)
        XCTAssertTrue(Set(workerOfItem).isSubset(of: ["a", "b", "c"]))
    }

    func testProgressCountsEveryFinishedItem() {
        let ledger = Ledger()
        let finished: (Int) -> Void = { ledger.record($0) }
        _ = parallelMap(count: 25, workers: 4, progress: finished) { $0 }
        XCTAssertEqual(ledger.sorted, Array(1...25))
    }

    func testForRunsEachIndexOnceAndOneInline() {
        let ledger = Ledger()
        parallelFor(count: 100) { ledger.record($0) }
        XCTAssertEqual(ledger.sorted, Array(0..<100))
        let caller = Thread.current
        var inline = false
        parallelFor(count: 1) { _ in inline = Thread.current == caller }
        XCTAssertTrue(inline)
        parallelFor(count: 0) { ledger.record($0) }
        XCTAssertEqual(ledger.sorted.count, 100)
    }

    func testForPartsSplitsIntoContiguousRangesThatDependOnlyOnCountAndParts() {
        let ledger = Ledger()
        var ranges = [Range<Int>?](repeating: nil, count: 4)
        let lock = NSLock()
        parallelFor(count: 10, parts: 4) { part, range in
            lock.lock()
            ranges[part] = range
            lock.unlock()
            range.forEach(ledger.record)
        }
        XCTAssertEqual(ranges, [0..<2, 2..<5, 5..<7, 7..<10])
        XCTAssertEqual(ledger.sorted, Array(0..<10))
    }

    func testForPartsNeverMakesEmptyParts() {
        var parts: [Int] = []
        let lock = NSLock()
        parallelFor(count: 3, parts: 8) { part, range in
            lock.lock()
            parts.append(part)
            lock.unlock()
            XCTAssertEqual(range.count, 1)
        }
        XCTAssertEqual(parts.sorted(), [0, 1, 2])
        parallelFor(count: 0, parts: 4) { _, _ in XCTFail("no range of an empty count") }
    }
}
