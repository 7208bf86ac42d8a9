import ArgumentParser
import WFDB

/// `pipe wfdb annotations RECORD`: annotations, like rdann.
public struct WFDBAnnotationsCommand: PrintingCommand {
    public static let configuration = CommandConfiguration(
        commandName: "annotations",
        abstract: "Print a record's annotations, like WFDB's rdann: time, sample, symbol, subtype, chan, num, aux."
    )

    public enum Style: String, EnumerableFlag {
        case json, csv
    }

    @Argument(help: "Record path without extension, or ending in .hea.")
    public var record: String

    @Option(help: "Annotator (the annotation file's extension).")
    public var annotator: String = "atr"

    @Flag(exclusivity: .exclusive, help: "Output format (default: aligned text).")
    public var style: Style?

    public init() {}

    public func validate() throws {
        guard !annotator.isEmpty, annotator.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw ValidationError("--annotator must be letters, digits or '_' (e.g. atr)")
        }
    }

    public func execute(into output: inout OutputWriter) throws {
        let location = RecordLocation(path: record)
        // The header gives the sampling frequency for times; without one, WFDB's default applies.
        let frequency = (try? WFDBRecord.open(record).header.samplingFrequency) ?? 250
        let annotations = try AnnotationFile.read(record: location, annotator: annotator)
        switch style {
        case .json:
            output.write("[")
            for (index, annotation) in annotations.enumerated() {
                output.write(index == 0 ? "\n{\"time\":" : ",\n{\"time\":")
                output.jsonString(SampleTime.format(frame: annotation.sample, frequency: frequency))
                output.write(",\"sample\":")
                output.integer(annotation.sample)
                output.write(",\"symbol\":")
                output.jsonString(annotation.symbol)
                output.write(",\"subtype\":")
                output.integer(annotation.subtype)
                output.write(",\"chan\":")
                output.integer(annotation.channel)
                output.write(",\"num\":")
                output.integer(annotation.number)
                output.write(",\"aux\":")
                if let aux = annotation.aux { output.jsonString(Self.display(aux)) } else { output.write("null") }
                output.write("}")
            }
            output.write("\n]\n")
        case .csv:
            output.line("time,sample,symbol,subtype,chan,num,aux")
            for annotation in annotations {
                output.write(SampleTime.format(frame: annotation.sample, frequency: frequency))
                output.byte(0x2C)
                output.integer(annotation.sample)
                output.byte(0x2C)
                output.csvField(annotation.symbol)
                for value in [annotation.subtype, annotation.channel, annotation.number] {
                    output.byte(0x2C)
                    output.integer(value)
                }
                output.byte(0x2C)
                output.csvField(annotation.aux.map(Self.display) ?? "")
                output.byte(0x0A)
            }
        case nil:
            for annotation in annotations {
                let time = SampleTime.format(frame: annotation.sample, frequency: frequency)
                var line = String(repeating: " ", count: max(0, 12 - time.count)) + time
                let sample = String(annotation.sample)
                line += String(repeating: " ", count: max(1, 9 - sample.count)) + sample
                line += "     " + annotation.symbol
                for value in [annotation.subtype, annotation.channel, annotation.number] {
                    let text = String(value)
                    line += String(repeating: " ", count: max(1, 5 - text.count)) + text
                }
                if let aux = annotation.aux { line += "\t" + Self.display(aux) }
                output.line(line)
            }
        }
    }

    /// AUX text as rdann shows it: without the trailing NUL many files store.
    static func display(_ aux: String) -> String {
        var text = Substring(aux)
        while text.last == "\0" { text = text.dropLast() }
        return String(text)
    }
}
