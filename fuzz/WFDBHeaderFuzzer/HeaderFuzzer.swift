import Foundation
import WFDB

/// libFuzzer entry: any bytes as a header file. Must end in a typed error or a header, never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHeader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Data(bytes: data, count: size)
    if let header = try? HeaderParser.parse(bytes, file: "fuzz.hea") {
        _ = RecordWriter.headerBytes(header)
    }
    return 0
}

#if !FUZZING
/// Without libFuzzer (`swift build`), replays the files given as arguments.
@main
enum HeaderFuzzerReplay {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let bytes = FileManager.default.contents(atPath: path) else { continue }
            _ = bytes.withUnsafeBytes { fuzzHeader($0.bindMemory(to: UInt8.self).baseAddress, bytes.count) }
        }
    }
}
#endif
