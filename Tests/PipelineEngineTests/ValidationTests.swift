import ContentStore
import Foundation
import XCTest
import Yams

@testable import PipelineEngine

/// Every way a pipeline.yaml can be wrong gives a typed error naming the file, line and column.
final class ValidationTests: XCTestCase {
    struct Case {
        var name: String
        var yaml: String
        var line: Int
        var expect: (PipelineError) -> Bool
        var files: [String: String] = [:]
    }

    static let cases: [Case] = [
        Case(
            name: "unknown stage key", yaml: "stages:\n  a:\n    cmd: echo\n    outz: [x]\n", line: 4,
            expect: { if case .unknownKey(_, "outz", _) = $0 { return true } else { return false } }),
        Case(
            name: "unknown top-level key", yaml: "stage:\n  a:\n    cmd: echo\n", line: 1,
            expect: { if case .unknownKey(_, "stage", _) = $0 { return true } else { return false } }),
        Case(
            name: "both uses and cmd", yaml: "stages:\n  a:\n    cmd: echo\n    uses: test.copy\n", line: 2,
            expect: { if case .kindAmbiguous(_, "a") = $0 { return true } else { return false } }),
        Case(
            name: "neither uses nor cmd", yaml: "stages:\n  a:\n    deps: [x]\n", line: 2,
            expect: { if case .kindMissing(_, "a") = $0 { return true } else { return false } }),
        Case(
            name: "unknown built-in", yaml: "stages:\n  a:\n    uses: ecg.nothing\n", line: 3,
            expect: { if case .unknownBuiltin(_, "ecg.nothing", _) = $0 { return true } else { return false } }),
        Case(
            name: "two stages write one output",
            yaml: "stages:\n  a:\n    cmd: echo\n    outs: [o]\n  b:\n    cmd: echo\n    outs: [o]\n", line: 7,
            expect: { if case .duplicateOutput(_, "o", "b", "a") = $0 { return true } else { return false } }),
        Case(
            name: "output inside another",
            yaml: "stages:\n  a:\n    cmd: echo\n    outs: [data]\n  b:\n    cmd: echo\n    outs: [data/x.txt]\n",
            line: 7,
            expect: {
                if case .overlappingOutputs(_, "data/x.txt", "b", "data", "a") = $0 {
                    return true
                } else {
                    return false
                }
            }),
        Case(
            name: "dotdot escapes", yaml: "stages:\n  a:\n    cmd: echo\n    deps: [../secret]\n", line: 4,
            expect: { if case .pathEscapesWorkspace(_, "../secret", _) = $0 { return true } else { return false } }),
        Case(
            name: "absolute path escapes", yaml: "stages:\n  a:\n    cmd: echo\n    outs: [/etc/passwd]\n", line: 4,
            expect: { if case .pathEscapesWorkspace(_, "/etc/passwd", _) = $0 { return true } else { return false } }),
        Case(
            name: "cycle",
            yaml:
                "stages:\n  train:\n    cmd: echo\n    deps: [e]\n    outs: [t]\n  evaluate:\n    cmd: echo\n    deps: [t]\n    outs: [e]\n",
            line: 2,
            expect: {
                if case .cycle(_, let stages) = $0 {
                    return stages == ["train", "evaluate", "train"]
                } else {
                    return false
                }
            }),
        Case(
            name: "missing dependency", yaml: "stages:\n  a:\n    cmd: echo\n    deps: [nowhere.txt]\n", line: 4,
            expect: { if case .missingDependency(_, "nowhere.txt", "a") = $0 { return true } else { return false } }),
        Case(
            name: "malformed YAML", yaml: "stages:\n  a:\n    cmd: [echo\n", line: 4,
            expect: { if case .malformedYAML = $0 { return true } else { return false } }),
        Case(
            name: "deps not a list", yaml: "stages:\n  a:\n    cmd: echo\n    deps: {x: 1}\n", line: 4,
            expect: { if case .unexpectedType = $0 { return true } else { return false } }),
        Case(
            name: "duplicate key", yaml: "stages:\n  a:\n    cmd: echo\n    cmd: echo 2\n", line: 4,
            expect: { if case .duplicateKey(_, "cmd") = $0 { return true } else { return false } }),
        Case(
            name: "duplicate key, CR line ends (a crash fuzz-params found)",
            yaml: "stages:\r  a:\r    cmd: echo\r    cmd: echo 2\r", line: 4,
            expect: { if case .duplicateKey(_, "cmd") = $0 { return true } else { return false } }),
        Case(
            name: "bad boolean", yaml: "stages:\n  a:\n    cmd: echo\n    frozen: maybe\n", line: 4,
            expect: { if case .unexpectedType(_, "true or false") = $0 { return true } else { return false } }),
        Case(
            name: "empty command", yaml: "stages:\n  a:\n    cmd: '  '\n", line: 3,
            expect: { if case .emptyCommand = $0 { return true } else { return false } }),
        Case(
            name: "item 10: a number as the command", yaml: "stages:\n  a:\n    cmd: 42\n", line: 3,
            expect: {
                if case .unexpectedType(_, let expected) = $0 {
                    return expected.contains("quote it, '42'")
                } else {
                    return false
                }
            }),
        Case(
            name: "item 10: a boolean in a command list",
            yaml: "stages:\n  a:\n    cmd:\n      - echo a\n      - true\n", line: 5,
            expect: {
                if case .unexpectedType(_, let expected) = $0 {
                    return expected.hasPrefix("a command string")
                } else {
                    return false
                }
            }),
        Case(
            name: "missing param", yaml: "stages:\n  a:\n    cmd: echo\n    params: [lr]\n", line: 4,
            expect: { if case .missingParam(_, "lr", "stages/a.yaml", "a") = $0 { return true } else { return false } },
            files: ["stages/a.yaml": "epochs: 3\n"]),
        Case(
            name: "missing params file", yaml: "stages:\n  a:\n    cmd: echo\n    params: [{other.yaml: [lr]}]\n",
            line: 4,
            expect: { if case .missingParamsFile(_, "other.yaml", "a") = $0 { return true } else { return false } }),
        Case(
            name: "headline on a plain output",
            yaml: "stages:\n  a:\n    cmd: echo\n    outs: [{path: o, headline: [acc]}]\n", line: 4,
            expect: { if case .unknownKey(_, "headline", _) = $0 { return true } else { return false } }),
        Case(
            name: "headline key with an empty part",
            yaml:
                "stages:\n  a:\n    cmd: echo\n    metrics:\n      - path: m.json\n        headline: [acc, per_class..f1]\n",
            line: 6,
            expect: { if case .unexpectedType = $0 { return true } else { return false } }),
        Case(
            name: "headline not a list",
            yaml: "stages:\n  a:\n    cmd: echo\n    metrics:\n      - path: m.json\n        headline: {acc: 1}\n",
            line: 6,
            expect: { if case .unexpectedType = $0 { return true } else { return false } }),
        Case(
            name: "headline key twice",
            yaml: "stages:\n  a:\n    cmd: echo\n    metrics: [{path: m.json, headline: [acc, acc]}]\n", line: 4,
            expect: { if case .duplicateKey(_, "acc") = $0 { return true } else { return false } }),
    ]

    func testEveryValidationErrorNamesFileLineAndColumn() throws {
        for testCase in Self.cases {
            let fixture = try TemporaryWorkspace(registry: StageRegistry([CopyStage()]))
            try fixture.write("pipeline.yaml", testCase.yaml)
            for (path, text) in testCase.files { try fixture.write(path, text) }
            do {
                _ = try fixture.workspace.status()
                XCTFail("\(testCase.name): no error")
            } catch let error as PipelineError {
                XCTAssertTrue(testCase.expect(error), "\(testCase.name): unexpected \(error)")
                XCTAssertEqual(error.location?.file, "pipeline.yaml", testCase.name)
                XCTAssertEqual(error.location?.line, testCase.line, "\(testCase.name): \(error)")
                XCTAssertTrue(
                    error.description.hasPrefix("pipeline.yaml:\(testCase.line):"), "\(testCase.name): \(error)")
            }
        }
    }

    func testAMetricsFileNamesItsHeadlineKeysAndAPlainPathStaysValid() throws {
        let definition = try PipelineParser(file: "pipeline.yaml", registry: StageRegistry()).parse(
            """
            stages:
              a:
                cmd: echo
                metrics: [{path: metrics/eval.json, headline: [accuracy, per_class.V.f1]}, metrics/train.json]
            """)
        let metrics = definition.stages.first?.outputs.filter { $0.role == .metric } ?? []
        XCTAssertEqual(metrics.map(\.path), ["metrics/eval.json", "metrics/train.json"])
        XCTAssertEqual(metrics.map(\.headline), [["accuracy", "per_class.V.f1"], []])
        XCTAssertEqual(metrics.map(\.cache), [false, false])
    }

    func testItem10_AQuotedNumberIsACommand() throws {
        let definition = try PipelineParser(file: "pipeline.yaml", registry: StageRegistry()).parse(
            "stages:\n  a:\n    cmd: ['42', \"true\", echo 1]\n")
        XCTAssertEqual(definition.stages.first?.kind, .command(["42", "true", "echo 1"]))
    }

    func testCycleMessageFollowsTheDataFlow() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.write("pipeline.yaml", Self.cases[9].yaml)
        XCTAssertThrowsError(try fixture.workspace.loadGraph()) { error in
            XCTAssertTrue("\(error)".hasSuffix("the stages form a cycle: train → evaluate → train"), "\(error)")
        }
    }

    func testASymlinkPointingOutOfTheWorkspaceIsRefused() throws {
        let fixture = try TemporaryWorkspace()
        try FileManager.default.createSymbolicLink(
            atPath: fixture.root.appendingPathComponent("link").path, withDestinationPath: "/tmp")
        try fixture.write("pipeline.yaml", "stages:\n  a:\n    cmd: echo\n    deps: [link/x]\n    outs: [o]\n")
        XCTAssertThrowsError(try fixture.workspace.loadGraph()) { error in
            guard case .pathEscapesWorkspace(let location, "link/x", _)? = error as? PipelineError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(location.line, 4)
        }
    }

    func testAMissingPipelineFileIsNamed() throws {
        let fixture = try TemporaryWorkspace()
        XCTAssertThrowsError(try fixture.workspace.loadGraph()) { error in
            XCTAssertEqual(error as? PipelineError, .missingFile(path: "pipeline.yaml"))
        }
    }

    func testAMalformedLockFileIsNamed() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.write("pipeline.yaml", "stages:\n  a:\n    cmd: echo > o\n    outs: [o]\n")
        try fixture.write("pipeline.lock", "schema: 1\nstages:\n  a:\n    signature: nope\n")
        XCTAssertThrowsError(try fixture.workspace.status()) { error in
            guard case .malformedLock(let path, _)? = error as? PipelineError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "pipeline.lock")
        }
        try fixture.write("pipeline.lock", "schema: 99\nstages: {}\n")
        XCTAssertThrowsError(try fixture.workspace.status()) { error in
            XCTAssertEqual(error as? PipelineError, .newerLock(path: "pipeline.lock", schema: 99, supported: 1))
        }
    }

    func testItem10_ALockFileThatIsADirectoryIsNamedAsOne() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.write("pipeline.yaml", "stages:\n  a:\n    cmd: echo > o\n    outs: [o]\n")
        try FileManager.default.createDirectory(
            at: fixture.root.appendingPathComponent("pipeline.lock"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try fixture.workspace.status()) { error in
            XCTAssertEqual(
                "\(error)",
                "pipeline.lock: malformed lock file: pipeline.lock: cannot read: a directory, not a regular file")
        }
    }

    func testBadOverridesAreRejected() {
        for text in ["lr=1", "train.lr", ".lr=1", "train.=1", "train.lr=[1"] {
            XCTAssertThrowsError(try ParamOverride(parsing: text), text)
        }
        XCTAssertEqual(try ParamOverride(parsing: "train.optimizer.lr=1e-3").value.json, "0.001")
    }
}

/// A test-only built-in: copies its `source` param's file to its single output, logging a metric.
struct CopyStage: BuiltinStage {
    var name = "test.copy"
    var codeVersion = "1"
    var declaredParams = ["source"]

    func run(_ context: StageContext) throws {
        guard let source = context.params.string("source"), let output = context.outputs.first else {
            throw StageFailure("test.copy needs a source param and one output")
        }
        let data = try Data(contentsOf: context.url(source))
        context.log("copying \(data.count) bytes")
        context.logMetrics(["bytes": Double(data.count)], step: 0)
        try context.write(data, to: output)
    }
}

/// Scalars resolve as YAML 1.1 does, without Yams' regular-expression resolver.
final class YAMLScalarTests: XCTestCase {
    func testPlainScalarsResolveToTheirTypesAndQuotedOnesStayStrings() throws {
        let document = """
            a: 1
            b: -2.5e-3
            c: true
            d: off
            e: ~
            f: "1"
            g: 0x1F
            h: .inf
            i: inf
            j: 1.0
            k: [1, "x", null]
            """
        let node = try XCTUnwrap(try Yams.compose(yaml: document, .basic))
        func canonical(_ key: String) -> String? { node[key].map { CanonicalValue($0).json } }
        XCTAssertEqual(canonical("a"), "1")
        XCTAssertEqual(canonical("b"), "-0.0025")
        XCTAssertEqual(canonical("c"), "true")
        XCTAssertEqual(canonical("d"), "false")
        XCTAssertEqual(canonical("e"), "null")
        XCTAssertEqual(canonical("f"), "\"1\"")
        XCTAssertEqual(canonical("g"), "\"0x1F\"")
        XCTAssertEqual(canonical("h"), "\".inf\"", "non-finite values keep their spelling")
        XCTAssertEqual(canonical("i"), "\"inf\"")
        XCTAssertEqual(canonical("j"), "1.0")
        XCTAssertEqual(canonical("k"), "[1,\"x\",null]")
    }
}
