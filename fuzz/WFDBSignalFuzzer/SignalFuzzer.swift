import Foundation
import WFDB

/// Scratch directory for this fuzzing process (records must be files to be opened).
private let scratch: String = {
    let path = NSTemporaryDirectory() + "/wfdb-signal-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}()

private let formats = [8, 16, 24, 32, 61, 80, 160, 212, 310, 311]

/// libFuzzer entry: the first 8 bytes choose a record layout (format, signals, samples per frame,
/// skew, byte offset, sample count, range); the rest is the signal file. Decoding must end in a
/// typed error or samples, never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSignal(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size >= 8 else { return 0 }
    let control = Array(UnsafeBufferPointer(start: data, count: 8))
    let body = Array(UnsafeBufferPointer(start: data + 8, count: size - 8))
    let format = formats[Int(control[0]) % formats.count]
    let signals = 1 + Int(control[1] % 4)
    var lines: [String] = []
    for index in 0..<signals {
        var spec = "f.dat \(format)"
        if control[2] & (1 << index) != 0 { spec += "x\(1 + Int(control[3] % 4))" }
        if control[4] & (1 << index) != 0 { spec += ":\(Int(control[5] % 8))" }
        if control[2] & 0x80 != 0 { spec += "+\(Int(control[6] % 64))" }
        lines.append(
            spec
                + " 200(\(Int(control[7]) - 128))/mV 0 0 \(Int(control[6]) - 100) \(Int(control[5]) * 97 - 1000) 0 s\(index)"
        )
    }
    // Sample count: absent (derived from the file), small, or absurd.
    let countField: String
    switch control[7] % 4 {
    case 0: countField = ""
    case 1: countField = " \(Int(control[6]) * 3)"
    case 2: countField = " \(body.count / max(signals, 1))"
    default: countField = " 9223372036854775000"
    }
    let header = "f \(signals) 360\(countField)\n" + lines.joined(separator: "\n") + "\n"
    do {
        try Data(header.utf8).write(to: URL(fileURLWithPath: scratch + "/f.hea"))
        try Data(body).write(to: URL(fileURLWithPath: scratch + "/f.dat"))
        let record = try WFDBRecord.open(scratch + "/f")
        let block = try record.read()
        for channel in block.channels { _ = channel.physical() }
        if record.frameCount > 2 {
            let start = Int(control[3]) % record.frameCount
            _ = try record.read(frames: start..<record.frameCount, signals: [signals - 1])
        }
        _ = try record.forEachBlock(framesPerBlock: max(7, record.frameCount / 3)) { _ in }
    } catch is WFDBError {
        return 0
    } catch {
        return 0
    }
    return 0
}

#if !FUZZING
/// Without libFuzzer (`swift build`), replays the files given as arguments.
@main
enum SignalFuzzerReplay {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let bytes = FileManager.default.contents(atPath: path) else { continue }
            _ = bytes.withUnsafeBytes { fuzzSignal($0.bindMemory(to: UInt8.self).baseAddress, bytes.count) }
        }
    }
}
#endif
