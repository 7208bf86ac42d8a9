import ArgumentParser
import Foundation
import WFDB

/// `pipe wfdb info RECORD [--json]`: header fields and a per-signal summary.
public struct WFDBInfoCommand: PrintingCommand {
    public static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show a record's header fields and a per-signal summary (format, gain, units, range, checksum)."
    )

    @Argument(help: "Record path without extension, or ending in .hea (e.g. ../shared/data/mitdb/100).")
    public var record: String

    @Flag(help: "Print JSON instead of text.")
    public var json = false

    public init() {}

    public func execute(into output: inout OutputWriter) throws {
        let summary = try RecordSummary.make(path: record)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try encoder.encode(summary)
            output.line(String(decoding: data, as: UTF8.self))
            return
        }
        output.line("Record \(summary.record)")
        output.line("  Header:             \(summary.header)")
        if let segments = summary.segments {
            output.line("  Segments:           \(segments.count) (\(summary.layout ?? "fixed") layout)")
        }
        let record = summary.defaults
        output.line(
            "  Sampling frequency: \(RecordWriterFormatting.number(summary.samplingFrequency)) Hz"
                + Self.note(record, .samplingFrequency))
        if let counter = summary.counterFrequency {
            output.line(
                "  Counter frequency:  \(RecordWriterFormatting.number(counter)) Hz"
                    + Self.note(record, .counterFrequency))
        }
        output.line("  Samples:            \(summary.samples) (\(summary.duration))" + Self.note(record, .sampleCount))
        if let time = summary.baseTime { output.line("  Base time:          \(time)") }
        if let date = summary.baseDate { output.line("  Base date:          \(date)") }
        output.line("  Signals:            \(summary.signals.count)")
        for signal in summary.signals { Self.write(signal, into: &output) }
        for comment in summary.comments { output.line("  # \(comment)") }
        for warning in summary.warnings { output.line("warning: \(warning)") }
    }

    /// Four lines per signal: description, file layout, calibration (with the defaults applied), range and checksum.
    static func write(_ signal: RecordSummary.Signal, into output: inout OutputWriter) {
        let defaults = signal.defaults
        output.line("  [\(signal.index)] \(signal.description)" + Self.note(defaults, .description))
        output.line(
            "      file \(signal.file), format \(signal.format)"
                + (signal.samplesPerFrame != 1 ? "x\(signal.samplesPerFrame)" : "")
                + (signal.skew != 0 ? ", skew \(signal.skew)" : "")
                + (signal.byteOffset != 0 ? ", byte offset \(signal.byteOffset)" : ""))
        output.line(
            "      gain \(RecordWriterFormatting.number(signal.gain)) adu/\(signal.units)"
                + Self.note(defaults, [(.gain, "default"), (.units, "default units")])
                + ", baseline \(signal.baseline)" + Self.note(defaults, .baseline)
                + ", ADC \(signal.adcResolution) bits" + Self.note(defaults, .adcResolution)
                + ", zero \(signal.adcZero)" + Self.note(defaults, .adcZero)
                + ", initial value \(signal.initialValue)" + Self.note(defaults, .initialValue))
        let range = signal.min.map { "\($0)..\(signal.max ?? $0)" } ?? "-"
        output.line(
            "      digital range \(range), invalid samples \(signal.invalidSamples), "
                + "checksum \(signal.checksum)")
    }

    /// ` (default: REASON)` where the reader applied a default to `field`, else nothing.
    static func note(_ defaults: [String: String], _ field: HeaderField) -> String {
        note(defaults, [(field, "default")])
    }

    /// ` (LABEL: REASON; LABEL: REASON)` for those of `fields` the reader gave a default, else nothing.
    static func note(_ defaults: [String: String], _ fields: [(HeaderField, String)]) -> String {
        let parts = fields.compactMap { field, label in defaults[field.jsonKey].map { "\(label): \($0)" } }
        return parts.isEmpty ? "" : " (" + parts.joined(separator: "; ") + ")"
    }
}

/// What `info` reports; Codable for `--json`.
struct RecordSummary: Codable {
    struct Signal: Codable {
        var index: Int
        var description: String
        var file: String
        var format: Int
        var samplesPerFrame: Int
        var skew: Int
        var byteOffset: Int
        var gain: Double
        var baseline: Int
        var units: String
        var adcResolution: Int
        var adcZero: Int
        var initialValue: Int
        var blockSize: Int
        var headerChecksum: Int?
        var checksum: String
        var min: Int?
        var max: Int?
        var invalidSamples: Int
        /// The fields the reader gave header(5)'s default, by their key here, with the reason.
        var defaults: [String: String]
    }

    struct Segment: Codable {
        var name: String
        var samples: Int
    }

    var record: String
    var header: String
    var samplingFrequency: Double
    var counterFrequency: Double?
    var baseCounter: Double?
    var samples: Int
    var duration: String
    var baseTime: String?
    var baseDate: String?
    var layout: String?
    var segments: [Segment]?
    var signals: [Signal]
    var comments: [String]
    var warnings: [String]
    /// The record-line fields the reader gave header(5)'s default, by their key here, with the reason.
    var defaults: [String: String]

    static func make(path: String) throws -> RecordSummary {
        let record = try WFDBRecord.open(path)
        let header = record.header
        // Block by block, so memory stays bounded whatever the record's length.
        var low = [Int32?](repeating: nil, count: record.signals.count)
        var high = [Int32?](repeating: nil, count: record.signals.count)
        var invalid = [Int](repeating: 0, count: record.signals.count)
        let statuses = try record.forEachBlock { block in
            for (slot, channel) in block.channels.enumerated() {
                invalid[slot] += channel.invalidCount
                var blockLow = low[slot] ?? Int32.max
                var blockHigh = high[slot] ?? Int32.min
                var any = low[slot] != nil
                for value in channel.digital where value != channel.invalidValue {
                    blockLow = Swift.min(blockLow, value)
                    blockHigh = Swift.max(blockHigh, value)
                    any = true
                }
                if any {
                    low[slot] = blockLow
                    high[slot] = blockHigh
                }
            }
        }
        var signals: [Signal] = []
        let declared = header.segments.map { "\($0.count) segment" } ?? "\(header.signalCount) signal"
        let plural = (header.segments?.count ?? header.signalCount) == 1 ? "" : "s"
        var warnings = header.ignoredLines.map { line in
            "\(record.headerPath):\(line): ignored: the record line declares \(declared)\(plural) "
                + "(header(5) disregards extra lines)"
        }
        for (index, spec) in record.signals.enumerated() {
            let status = statuses.indices.contains(index) ? statuses[index] : .notChecked
            if let warning = status.warning(record: header.name, signal: index, description: spec.description) {
                warnings.append(warning)
            }
            signals.append(
                Signal(
                    index: index, description: spec.description, file: spec.fileName,
                    format: spec.format.rawValue, samplesPerFrame: spec.samplesPerFrame, skew: spec.skew,
                    byteOffset: spec.byteOffset, gain: spec.gain, baseline: spec.baseline, units: spec.units,
                    adcResolution: spec.adcResolution, adcZero: spec.adcZero, initialValue: spec.initialValue,
                    blockSize: spec.blockSize, headerChecksum: spec.checksum, checksum: status.label,
                    min: low[index].map(Int.init), max: high[index].map(Int.init), invalidSamples: invalid[index],
                    defaults: defaultsByKey(spec.defaults)))
        }
        let layout: String? =
            record.isMultiSegment
            ? ((header.segments?.first?.sampleCount == 0) ? "variable" : "fixed") : nil
        return RecordSummary(
            record: header.name, header: record.headerPath, samplingFrequency: header.samplingFrequency,
            counterFrequency: counterFrequency(header), baseCounter: header.baseCounter,
            samples: record.frameCount,
            duration: SampleTime.format(frame: record.frameCount, frequency: header.samplingFrequency),
            baseTime: header.baseTime, baseDate: header.baseDate, layout: layout,
            segments: header.segments?.map { Segment(name: $0.name, samples: $0.sampleCount) },
            signals: signals, comments: header.comments, warnings: warnings, defaults: defaultsByKey(header.defaults))
    }

    /// The counter frequency where the header has a counter field (one that is not positive means the
    /// sampling frequency); nil where it has none, as every MIT-BIH header.
    static func counterFrequency(_ header: RecordHeader) -> Double? {
        if header.counterFrequency != nil || header.appliedDefault(.counterFrequency)?.given != nil {
            return header.effectiveCounterFrequency
        }
        return nil
    }

    static func defaultsByKey(_ defaults: [AppliedDefault]) -> [String: String] {
        Dictionary(defaults.map { ($0.field.jsonKey, $0.reason) }, uniquingKeysWith: { first, _ in first })
    }
}

enum RecordWriterFormatting {
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
