import ArgumentParser
import Foundation
import WFDB

/// `pipe wfdb samples RECORD`: sample values, like rdsamp.
public struct WFDBSamplesCommand: PrintingCommand {
    public static let configuration = CommandConfiguration(
        commandName: "samples",
        abstract: "Print sample values of a record, like WFDB's rdsamp.",
        discussion: "T is a sample number (650000) or a time (hh:mm:ss.sss). Invalid samples print as '-' "
            + "(null in JSON). Signals with several samples per frame print the frame's mean."
    )

    public enum Units: String, EnumerableFlag {
        case physical, digital
        public static func help(for value: Units) -> ArgumentHelp? {
            value == .physical ? "Physical units: (digital - baseline) / gain." : "Digital (ADC) values."
        }
    }

    public enum Style: String, EnumerableFlag {
        case csv, json
        public static func help(for value: Style) -> ArgumentHelp? {
            value == .csv ? "Comma-separated values with a header row." : "A JSON object with one row per frame."
        }
    }

    @Argument(help: "Record path without extension, or ending in .hea.")
    public var record: String

    @Option(
        help: ArgumentHelp("First sample to print (sample number or hh:mm:ss.sss); default the start.", valueName: "T"))
    public var from: String?

    @Option(
        help: ArgumentHelp("End (exclusive; sample number or hh:mm:ss.sss); default the record's end.", valueName: "T"))
    public var to: String?

    @Option(
        help: ArgumentHelp("Signals to print, by index or name, comma-separated (e.g. 0,1 or MLII).", valueName: "list")
    )
    public var signals: String?

    @Flag(exclusivity: .exclusive)
    public var units: Units = .digital

    @Flag(exclusivity: .exclusive)
    public var style: Style?

    public init() {}

    public func validate() throws {
        if let signals, signals.split(separator: ",").isEmpty {
            throw ValidationError("--signals needs at least one signal index or name")
        }
    }

    public func execute(into output: inout OutputWriter) throws {
        let opened = try WFDBRecord.open(record)
        let frequency = opened.header.samplingFrequency
        func frame(_ text: String?, _ name: String, default value: Int) throws -> Int {
            guard let text else { return value }
            guard let parsed = SampleTime.parse(text, frequency: frequency) else {
                throw ValidationError("\(name) '\(text)' is neither a sample number nor hh:mm:ss.sss")
            }
            return parsed
        }
        let start = try frame(from, "--from", default: 0)
        let end = try frame(to, "--to", default: opened.frameCount)
        guard start <= end else { throw ValidationError("--from must not be after --to") }
        let selection = try signals.map { list in
            try list.split(separator: ",").map { try opened.signalIndex(String($0)) }
        }
        let signalIndices = selection ?? Array(opened.signals.indices)
        var table = SampleTable(
            record: opened.header.name, signals: signalIndices.map { opened.signals[$0] },
            physical: units == .physical, style: style)
        table.writeHeader(into: &output)
        // Block by block: memory stays bounded and output starts at once.
        var blockStart = start
        while blockStart < end {
            let blockEnd = Swift.min(end, blockStart + (1 << 16))
            let block = try opened.read(frames: blockStart..<blockEnd, signals: signalIndices)
            table.writeRows(block, into: &output)
            blockStart = blockEnd
        }
        table.writeFooter(into: &output)
    }
}

/// Frame-rate rows of signal blocks, printed as text, CSV or JSON.
struct SampleTable {
    var record: String
    var signals: [SignalSpec]
    var physical: Bool
    var style: WFDBSamplesCommand.Style?
    private var rowsWritten = 0

    init(record: String, signals: [SignalSpec], physical: Bool, style: WFDBSamplesCommand.Style?) {
        self.record = record
        self.signals = signals
        self.physical = physical
        self.style = style
    }

    /// Enough decimals to show one ADC step (1 / gain), and at least 3 (rdsamp's -p).
    private var decimals: [Int] {
        signals.map { spec -> Int in
            let digits = log10(Swift.abs(spec.gain)).rounded(.up)
            return digits.isFinite ? Int(Swift.max(3, Swift.min(9, digits))) : 3
        }
    }

    func writeHeader(into output: inout OutputWriter) {
        let names = signals.map(\.description)
        switch style {
        case .json:
            output.write("{\"record\":")
            output.jsonString(record)
            output.write(",\"units\":")
            output.jsonString(physical ? "physical" : "digital")
            output.write(",\"signals\":[")
            for (index, name) in names.enumerated() {
                if index > 0 { output.byte(0x2C) }
                output.jsonString(name)
            }
            output.write("],\"rows\":[")
        case .csv:
            output.write("sample")
            for name in names {
                output.byte(0x2C)
                output.csvField(name)
            }
            output.byte(0x0A)
        case nil:
            output.write("sample")
            for name in names {
                output.byte(0x09)
                output.write(name)
            }
            output.byte(0x0A)
        }
    }

    mutating func writeRows(_ block: SignalBlock, into output: inout OutputWriter) {
        let channels = block.channels
        let decimals = self.decimals
        let physicalValues: [[Double]] = physical ? channels.map { $0.physical() } : []
        let separator: UInt8 = style == .csv ? 0x2C : 0x09
        for frame in 0..<block.frameCount {
            if style == .json { output.write(rowsWritten == 0 ? "\n[" : ",\n[") }
            rowsWritten += 1
            output.integer(block.firstFrame + frame)
            for (c, channel) in channels.enumerated() {
                output.byte(style == .json ? 0x2C : separator)
                let spf = channel.samplesPerFrame
                var invalid = false
                var digitalSum = 0
                var physicalSum = 0.0
                for sub in 0..<spf {
                    let index = frame * spf + sub
                    let value = channel.digital[index]
                    if channel.isInvalid(value) { invalid = true }
                    digitalSum += Int(value)
                    if physical { physicalSum += physicalValues[c][index] }
                }
                if invalid {
                    output.write(style == .json ? "null" : "-")
                } else if physical {
                    output.fixed(physicalSum / Double(spf), decimals: decimals[c])
                } else {
                    let mean = spf == 1 ? digitalSum : Int((Double(digitalSum) / Double(spf)).rounded())
                    output.integer(mean)
                }
            }
            if style == .json { output.byte(0x5D) } else { output.byte(0x0A) }
        }
    }

    func writeFooter(into output: inout OutputWriter) {
        if style == .json { output.write("\n]}\n") }
    }
}
