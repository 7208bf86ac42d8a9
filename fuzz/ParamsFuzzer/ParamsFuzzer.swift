import Foundation
import PipelineEngine

/// libFuzzer entry: any bytes as a params file (`stages/*.yaml`) and as the value of a `-S` override. Must end in
/// a typed error or canonical values, never a crash, a hang or an allocation past the limit.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzParams(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let values = try? ParamsText.values(text, file: "stages/fuzz.yaml") {
        _ = values.values.map(\.json)
    }
    _ = try? ParamOverride(parsing: "fuzz.key=" + text)
    return 0
}

#if !FUZZING
/// Without libFuzzer (`swift build`), replays the files given as arguments.
@main
enum ParamsFuzzerReplay {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let bytes = FileManager.default.contents(atPath: path) else { continue }
            _ = bytes.withUnsafeBytes { fuzzParams($0.bindMemory(to: UInt8.self).baseAddress, bytes.count) }
        }
    }
}
#endif
