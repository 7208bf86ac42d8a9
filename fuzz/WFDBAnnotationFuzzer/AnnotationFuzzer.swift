import Foundation
import WFDB

/// libFuzzer entry: any bytes as an MIT-format annotation file. Whatever parses must re-encode
/// (when representable) to a file that parses to the same annotations.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAnnotations(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let annotations = try? AnnotationFile.parse(bytes, file: "fuzz.atr") else { return 0 }
    for annotation in annotations { _ = annotation.symbol }
    if let encoded = try? AnnotationFile.encode(annotations, file: "fuzz.atr"),
        let again = try? AnnotationFile.parse(encoded, file: "fuzz.atr"),
        again != annotations
    {
        fatalError("annotation round trip changed \(annotations.count) annotations")
    }
    return 0
}

#if !FUZZING
/// Without libFuzzer (`swift build`), replays the files given as arguments.
@main
enum AnnotationFuzzerReplay {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let bytes = FileManager.default.contents(atPath: path) else { continue }
            _ = bytes.withUnsafeBytes { fuzzAnnotations($0.bindMemory(to: UInt8.self).baseAddress, bytes.count) }
        }
    }
}
#endif
