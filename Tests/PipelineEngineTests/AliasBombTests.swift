import Foundation
import XCTest

@testable import PipelineEngine

/// Issue 20, item 2: YAML whose aliases expand past a million nodes is refused before any tree is walked,
/// in params files, `-S` values and `pipeline.yaml` alike, quickly and naming the file.
final class AliasBombTests: XCTestCase {
    /// Nine levels of ×10 aliases: a billion scalars from a few hundred bytes, one `NAME: &NAME [...]` per line.
    static func bombLines() -> [String] {
        var lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        var previous = "a"
        for name in ["b", "c", "d", "e", "f", "g", "h", "i"] {
            lines.append(
                "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ", ") + "]")
            previous = name
        }
        return lines
    }

    /// The error `body` throws, asserting that it came within two seconds.
    private func quickRefusal(
        file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void
    ) -> PipelineError? {
        let start = Date()
        defer { XCTAssertLessThan(Date().timeIntervalSince(start), 2, "refused quickly", file: file, line: line) }
        do {
            try body()
        } catch let error as PipelineError {
            return error
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
        return nil
    }

    func testItem2_AParamsFileAliasBombIsRefusedQuicklyNamingTheFile() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.write("stages/b.yaml", Self.bombLines().joined(separator: "\n") + "\n")
        try fixture.write("pipeline.yaml", "stages:\n  b:\n    cmd: echo > o\n    params: [i]\n    outs: [o]\n")
        let error = try XCTUnwrap(quickRefusal { _ = try fixture.workspace.status() })
        guard case .aliasExpansion(let location, 1_000_000) = error else { return XCTFail("\(error)") }
        XCTAssertEqual(location.file, "stages/b.yaml")
        XCTAssertTrue(error.description.hasPrefix("stages/b.yaml:"), error.description)
    }

    func testItem2_AnAliasBombAsAMappingKeyIsRefusedBeforeYamsHashesIt() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.write("stages/b.yaml", (Self.bombLines() + ["? *i", ": 1"]).joined(separator: "\n") + "\n")
        try fixture.write("pipeline.yaml", "stages:\n  b:\n    cmd: echo > o\n    params: [a]\n    outs: [o]\n")
        let error = try XCTUnwrap(quickRefusal { _ = try fixture.workspace.status() })
        guard case .aliasExpansion(let location, _) = error else { return XCTFail("\(error)") }
        XCTAssertEqual(location.file, "stages/b.yaml")
    }

    func testItem2_ASetValueAliasBombIsRefusedQuickly() throws {
        let flow = "{" + Self.bombLines().joined(separator: ", ") + "}"
        let error = try XCTUnwrap(quickRefusal { _ = try ParamOverride(parsing: "b.a=" + flow) })
        guard case .badOverride(_, let problem) = error else { return XCTFail("\(error)") }
        XCTAssertEqual(problem, "its YAML aliases expand past 1000000 nodes")
    }

    func testItem2_APipelineYamlAliasBombIsRefusedQuickly() throws {
        let fixture = try TemporaryWorkspace()
        let text =
            "x:\n" + Self.bombLines().map { "  " + $0 }.joined(separator: "\n") + "\nstages:\n  a:\n    cmd: echo\n"
        try fixture.write("pipeline.yaml", text)
        let error = try XCTUnwrap(quickRefusal { _ = try fixture.workspace.loadGraph() })
        guard case .aliasExpansion(let location, _) = error else { return XCTFail("\(error)") }
        XCTAssertEqual(location.file, "pipeline.yaml")
    }

    func testItem2_OrdinaryAliasesInAParamsFileStillResolve() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.write("stages/t.yaml", "base: &base {lr: 0.01, layers: [8, 16]}\nmodel: *base\n")
        try fixture.write("pipeline.yaml", "stages:\n  t:\n    cmd: echo > o\n    params: [model]\n    outs: [o]\n")
        XCTAssertEqual(try fixture.workspace.status().map(\.stage), ["t"])
        let resolved = try ParamsResolver(workspace: fixture.root, overrides: []).resolve(
            try XCTUnwrap(try fixture.workspace.loadGraph().stage("t")))
        XCTAssertEqual(resolved.node("model").map { CanonicalValue($0).json }, "{\"layers\":[8,16],\"lr\":0.01}")
    }

    func testItem2_TheLimitCountsExpandedNodesExactly() throws {
        // The root sequence 1, `[x, x]` 3, `[*l, *l]` 1 + 3 + 3: 11 expanded nodes (7 written).
        let text = "- &l [x, x]\n- [*l, *l]\n"
        XCTAssertNoThrow(try YAMLExpansion.check(text, limit: 11))
        XCTAssertThrowsError(try YAMLExpansion.check(text, limit: 10)) { error in
            XCTAssertEqual(error as? YAMLExpansion.Exceeded, YAMLExpansion.Exceeded(line: 2, column: 8))
        }
    }

    func testItem2_ALargeDocumentWithoutAliasesIsNeverRefused() throws {
        let text = "[" + Array(repeating: "1", count: 50).joined(separator: ", ") + "]"
        XCTAssertNoThrow(try YAMLExpansion.check(text, limit: 10))
    }

    /// `ParamsText`, the params fuzz target's entry, reads a file as a repro does: the same limit, dotted keys.
    func testTheParamsFuzzEntryReadsAsAReproReads() throws {
        let values = try ParamsText.values("train:\n  lr: 1e-3\n  layers: [1, 2]\nseed: 42\n", file: "stages/x.yaml")
        XCTAssertEqual(values["train.lr"]?.json, "0.001")
        XCTAssertEqual(values["train.layers"]?.json, "[1,2]")
        XCTAssertEqual(values["seed"]?.json, "42")
        let error = quickRefusal { _ = try ParamsText.values(Self.bombLines().joined(separator: "\n"), file: "b.yaml") }
        XCTAssertTrue("\(error.map { "\($0)" } ?? "")".contains("b.yaml:"), "\(String(describing: error))")
        // fuzz-params' first crash: a duplicated key after CR line ends trapped while its line was looked for.
        let crash = try XCTUnwrap(
            Data(
                base64Encoded:
                    "bSAgLSB7Y29udjFkOiB7b3V0OiAzMiwNDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDSBrZXJuZWw6IDMyLCBrZXJuZWw6IDV9"
                    + "fQogICAg0goKYu86IDV9fQogICAg0i0gZVVSQ0UgcmVsdQo="))
        XCTAssertThrowsError(try ParamsText.values(String(decoding: crash, as: UTF8.self), file: "stages/f.yaml"))
    }
}
