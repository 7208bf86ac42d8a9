import Foundation

/// Byte and file counts of a fetch, shared by its workers, drawn as a progress bar with a rate and an ETA.
///
/// When the total is unknown (an HTTP source does not list sizes), it is estimated per file extension: the
/// average size of the finished `.dat` files times the number of `.dat` files, and so on, once a file of each
/// extension has finished (until then the bar shows no total). PhysioNet's records are uniform enough for this
/// to be close from the first record on.
final class TransferProgress: @unchecked Sendable {
    let totalFiles: Int
    /// Files to fetch per extension.
    private let filesByKind: [String: Int]
    private var finishedByKind: [String: (files: Int, bytes: Int64)] = [:]
    private let knownTotalBytes: Int64?
    private let emit: (String) -> Void
    private let started = Date()
    private let lock = NSLock()
    /// Bytes now held toward the result: transferred in this run plus partial files kept from earlier runs.
    private var doneBytes: Int64 = 0
    /// Bytes that crossed the network or were copied in this run (the rate's numerator).
    private var transferredCount: Int64 = 0
    private var finishedCount = 0
    private var finishedByteCount: Int64 = 0
    private var lastDrawn = Date.distantPast

    init(files: [String], knownTotalBytes: Int64?, emit: @escaping (String) -> Void) {
        totalFiles = files.count
        filesByKind = Dictionary(files.map { (Self.kind($0), 1) }, uniquingKeysWith: +)
        self.knownTotalBytes = knownTotalBytes
        self.emit = emit
    }

    /// Bytes received or copied just now.
    func transferred(_ count: Int) {
        update {
            doneBytes += Int64(count)
            transferredCount += Int64(count)
        }
    }

    /// Bytes already on disk from an earlier run (a partial download that is resumed or reused).
    func present(_ count: Int64) { update { doneBytes += count } }

    /// Bytes thrown away (a partial download that is started over).
    func discarded(_ count: Int64) { update { doneBytes = max(0, doneBytes - count) } }

    func fileFinished(_ file: String, size: Int64) {
        update(force: true) {
            let kind = Self.kind(file)
            let previous = finishedByKind[kind] ?? (0, 0)
            finishedByKind[kind] = (previous.files + 1, previous.bytes + size)
            finishedCount += 1
            finishedByteCount += size
        }
    }

    var elapsed: TimeInterval { Date().timeIntervalSince(started) }
    var transferredBytes: Int64 { locked { transferredCount } }
    /// The total size of the files installed so far.
    var finishedBytes: Int64 { locked { finishedByteCount } }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    private func update(force: Bool = false, _ change: () -> Void) {
        lock.lock()
        change()
        let now = Date()
        // At most ten frames a second: the observer may draw each on a terminal.
        guard force || now.timeIntervalSince(lastDrawn) >= 0.1 else {
            lock.unlock()
            return
        }
        lastDrawn = now
        let line = render(now: now)
        lock.unlock()
        emit(line)
    }

    /// `[#########...........]  41.2 MB / ~104 MB  8.1 MB/s  ETA 8 s  (60/144 files)`
    private func render(now: Date) -> String {
        let total = knownTotalBytes ?? estimatedTotal()
        let fraction = total.map { $0 > 0 ? min(1, Double(doneBytes) / Double($0)) : 1 } ?? 0
        let width = 24
        let filled = Int(fraction * Double(width))
        var line = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
        line += Self.bytes(doneBytes)
        if let total { line += " / " + (knownTotalBytes == nil ? "~" : "") + Self.bytes(total) }
        let seconds = now.timeIntervalSince(started)
        let rate = seconds > 0 ? Double(transferredCount) / seconds : 0
        if rate > 0 {
            line += "  \(Self.bytes(Int64(rate)))/s"
            if let total, total > doneBytes { line += "  ETA \(Self.duration(Double(total - doneBytes) / rate))" }
        }
        return line + "  (\(finishedCount)/\(totalFiles) files)"
    }

    private static func kind(_ file: String) -> String {
        file.split(separator: "/").last?.split(separator: ".").last.map(String.init) ?? ""
    }

    private func estimatedTotal() -> Int64? {
        var estimate = 0.0
        for (kind, count) in filesByKind {
            guard let finished = finishedByKind[kind] else { return nil }
            estimate += Double(finished.bytes) / Double(finished.files) * Double(count)
        }
        return max(doneBytes, Int64(estimate))
    }

    /// `512 B`, `1.4 kB`, `104 MB`, `2.1 GB` (decimal units, like PhysioNet's listings).
    static func bytes(_ count: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(count)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        if unit == 0 { return "\(count) B" }
        return value >= 100
            ? "\(Int(value.rounded())) \(units[unit])" : String(format: "%.1f", value) + " " + units[unit]
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let whole = Int(seconds.rounded(.up))
        if whole < 60 { return "\(whole) s" }
        if whole < 3600 { return "\(whole / 60) min \(whole % 60) s" }
        return "\(whole / 3600) h \(whole / 60 % 60) min"
    }
}
