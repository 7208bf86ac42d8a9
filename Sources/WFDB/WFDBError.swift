import Foundation

/// Every way reading or writing a WFDB record, header or annotation file can fail.
///
/// Each case names the file it is about; header cases also carry the 1-based line number.
public enum WFDBError: Error, CustomStringConvertible, Equatable {
    /// The file does not exist (or is not a regular file).
    case fileNotFound(file: String)
    /// The file exists but could not be read.
    case unreadable(file: String, reason: String)
    /// The header file holds no record line.
    case emptyHeader(file: String)
    /// The header is not text (NUL bytes, invalid UTF-8).
    case notText(file: String)
    /// A line of the header does not follow header(5).
    case malformedLine(file: String, line: Int, reason: String)
    /// A numeric field holds something that is not a number in range.
    case invalidField(file: String, line: Int, field: String, value: String)
    /// A record line's sample count is negative.
    case invalidSampleCount(file: String, line: Int, value: String)
    /// The sampling frequency is not a number within `RecordHeader.samplingFrequencyRange`.
    case invalidSamplingFrequency(file: String, line: Int, value: String)
    /// The ADC gain is not finite (a gain of zero means the default, 200).
    case invalidGain(file: String, line: Int, value: String)
    /// The header declares more signal (or segment) lines than it holds.
    case missingSignalLines(file: String, line: Int, declared: Int, found: Int)
    /// The format number is not a WFDB format.
    case unknownFormat(file: String, line: Int, format: String)
    /// The format is a WFDB format this reader does not decode (FLAC-based 508/516/524).
    case unsupportedFormat(file: String, line: Int, format: Int)
    /// Signals sharing one file disagree on format or byte offset, or are not consecutive.
    case inconsistentSignalGroup(file: String, line: Int, reason: String)
    /// A signal file named on a header line does not exist.
    case signalFileNotFound(header: String, line: Int, file: String)
    /// A signal file holds fewer bytes than the header's sample count needs.
    case truncatedSignalFile(file: String, neededBytes: Int, actualBytes: Int)
    /// A segment of a multi-segment record does not fit the record's layout.
    case segmentMismatch(file: String, segment: String, reason: String)
    /// A requested sample range lies outside the record.
    case sampleRangeOutOfBounds(record: String, from: Int, to: Int, length: Int)
    /// A requested signal index or name is not in the record.
    case unknownSignal(record: String, signal: String)
    /// An annotation file's length is odd, a multi-word field runs past its end, or the end-of-file word is missing.
    case truncatedAnnotationFile(file: String, byteOffset: Int, reason: String)
    /// An annotation's time became negative or overflowed.
    case invalidAnnotationTime(file: String, byteOffset: Int, time: Int)
    /// Annotation `index` (0-based) lies at or past the end of its record (`length` samples).
    case annotationPastRecordEnd(file: String, byteOffset: Int, index: Int, sample: Int, length: Int)
    /// Data handed to a writer cannot be represented in the chosen format or layout.
    case unrepresentable(file: String, reason: String)
    /// Writing a file failed.
    case writeFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let file):
            return "\(file): no such file"
        case .unreadable(let file, let reason):
            return "\(file): cannot read: \(reason)"
        case .emptyHeader(let file):
            return "\(file): header is empty (no record line)"
        case .notText(let file):
            return "\(file): not a WFDB header (binary content)"
        case .malformedLine(let file, let line, let reason):
            return "\(file):\(line): \(reason)"
        case .invalidField(let file, let line, let field, let value):
            return "\(file):\(line): invalid \(field) '\(value)'"
        case .invalidSampleCount(let file, let line, let value):
            return "\(file):\(line): invalid number of samples '\(value)'"
        case .invalidSamplingFrequency(let file, let line, let value):
            return "\(file):\(line): invalid sampling frequency '\(value)' (a header may declare 0.001 Hz to 1 MHz)"
        case .invalidGain(let file, let line, let value):
            return "\(file):\(line): invalid ADC gain '\(value)' (must be a finite number; 0 means the default, 200)"
        case .missingSignalLines(let file, let line, let declared, let found):
            return "\(file):\(line): header declares \(declared) lines but has only \(found)"
        case .unknownFormat(let file, let line, let format):
            return "\(file):\(line): unknown signal format '\(format)'"
        case .unsupportedFormat(let file, let line, let format):
            return "\(file):\(line): unsupported format \(format) (FLAC-compressed formats are not supported)"
        case .inconsistentSignalGroup(let file, let line, let reason):
            return "\(file):\(line): \(reason)"
        case .signalFileNotFound(let header, let line, let file):
            return "\(header):\(line): signal file '\(file)' not found"
        case .truncatedSignalFile(let file, let needed, let actual):
            return "\(file): truncated signal file: needs \(needed) bytes, has \(actual)"
        case .segmentMismatch(let file, let segment, let reason):
            return "\(file): segment '\(segment)': \(reason)"
        case .sampleRangeOutOfBounds(let record, let from, let to, let length):
            return "\(record): sample range \(from)..<\(to) outside the record (0..<\(length))"
        case .unknownSignal(let record, let signal):
            return "\(record): no signal '\(signal)'"
        case .truncatedAnnotationFile(let file, let offset, let reason):
            return "\(file): byte \(offset): \(reason)"
        case .invalidAnnotationTime(let file, let offset, let time):
            return "\(file): byte \(offset): annotation time \(time) is out of range"
        case .annotationPastRecordEnd(let file, let offset, let index, let sample, let length):
            return "\(file): byte \(offset): annotation \(index) at sample \(sample) lies past the end of the record "
                + "(\(length) samples)"
        case .unrepresentable(let file, let reason):
            return "\(file): \(reason)"
        case .writeFailed(let file, let reason):
            return "\(file): write failed: \(reason)"
        }
    }
}
