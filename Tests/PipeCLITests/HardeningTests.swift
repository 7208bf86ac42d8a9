import Foundation
import XCTest

/// Issue 20 end to end: what a hostile or careless pipeline, param, record or model gets from the binary.
final class HardeningTests: XCTestCase {
    func testItem1_OutputsNamingTheRunStoreAndDotGitExitTwoAndDeleteNothing() throws {
        let harness = try BinaryHarness()
        try harness.write(".git/HEAD", "ref: refs/heads/main\n")
        try harness.write("runs/keep.txt", "run store\n")
        try harness.write("pipeline.yaml", "stages:\n  a:\n    cmd: echo hi > o\n    outs: [o, runs, .git]\n")
        for command in [["repro"], ["status"], ["verify"], ["repro", "--force"]] {
            let output = try harness.run(command)
            XCTAssertEqual(output.status, 2, "\(command): \(output.stderr)")
            XCTAssertTrue(
                output.stderr.contains("pipeline.yaml:4:15: outs entry 'runs' is the run store"),
                "\(command): \(output.stderr)")
        }
        XCTAssertEqual(try harness.read(".git/HEAD"), "ref: refs/heads/main\n")
        XCTAssertEqual(try harness.read("runs/keep.txt"), "run store\n")
    }

    func testItem1_TheWorkspaceRootAsAnOutputExitsTwoWithAMessage() throws {
        let harness = try BinaryHarness()
        try harness.write("pipeline.yaml", "stages:\n  a:\n    cmd: echo hi\n    outs: [.]\n")
        let output = try harness.run(["repro"])
        XCTAssertEqual(output.status, 2, output.stderr)
        XCTAssertTrue(
            output.stderr.contains("pipeline.yaml:4:12: outs entry '.' is the workspace root"), output.stderr)
        XCTAssertFalse(output.stderr.contains("NSCocoaErrorDomain"), output.stderr)
    }

    /// Nine levels of ×10 aliases (a billion scalars), one `NAME: &NAME [...]` per element.
    private static let bombLines: [String] = {
        var lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for (previous, name) in zip("abcdefgh", "bcdefghi") {
            lines.append(
                "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ", ") + "]")
        }
        return lines
    }()

    func testItem2_AParamsFileAliasBombExitsTwoQuicklyNamingTheFile() throws {
        let harness = try BinaryHarness()
        try harness.write("stages/b.yaml", Self.bombLines.joined(separator: "\n") + "\n")
        try harness.write("pipeline.yaml", "stages:\n  b:\n    cmd: echo > o\n    params: [i]\n    outs: [o]\n")
        for command in [["status"], ["repro"]] {
            let start = Date()
            let output = try harness.run(command)
            XCTAssertEqual(output.status, 2, "\(command): \(output.stderr)")
            XCTAssertTrue(output.stderr.contains("stages/b.yaml:"), output.stderr)
            XCTAssertTrue(output.stderr.contains("aliases expand the document past 1000000 nodes"), output.stderr)
            XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        }
    }

    func testItem2_ASetValueAliasBombExitsTwoQuickly() throws {
        let harness = try BinaryHarness()
        try harness.write("stages/b.yaml", "a: 1\n")
        try harness.write("pipeline.yaml", "stages:\n  b:\n    cmd: echo > o\n    params: [a]\n    outs: [o]\n")
        let start = Date()
        let output = try harness.run(["repro", "-S", "b.a={" + Self.bombLines.joined(separator: ", ") + "}"])
        XCTAssertEqual(output.status, 2, output.stderr)
        XCTAssertTrue(output.stderr.contains("its YAML aliases expand past 1000000 nodes"), output.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    func testItem4_SetTyposExitTwoNamingTheClosestParamAndRunNothing() throws {
        let harness = try BinaryHarness()
        try harness.write("stages/train.yaml", "epochs: 10\nlr: 0.001\n")
        try harness.write(
            "pipeline.yaml",
            "stages:\n  train:\n    cmd: touch ran && echo > o\n    params: [epochs, lr]\n    outs: [o]\n")
        let cases = [
            ("trian.epochs=3", "no stage reads params from stages/trian.yaml; did you mean 'train.epochs'?"),
            ("train.epohcs=3", "no stage declares param 'epohcs' of stages/train.yaml; did you mean 'train.epochs'?"),
            ("train.name=x", "no stage declares param 'name' of stages/train.yaml (declared: epochs, lr)"),
        ]
        for (set, message) in cases {
            let output = try harness.run(["repro", "-S", set])
            XCTAssertEqual(output.status, 2, "\(set): \(output.stderr)")
            XCTAssertTrue(output.stderr.contains("bad --set '\(set)': \(message)"), output.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: harness.root.appendingPathComponent("ran").path))
        XCTAssertEqual(try harness.run(["repro", "-S", "train.epochs=3"]).status, 0)
    }

    func testItem5_ADirectoryOutputLinkingToEtcFailsTheStageAndCopiesNothing() throws {
        let harness = try BinaryHarness()
        try harness.write(
            "pipeline.yaml",
            "stages:\n  a:\n    cmd: mkdir -p out && echo x > out/x && ln -s /etc out/etc\n    outs: [out]\n")
        let output = try harness.run(["repro"])
        XCTAssertEqual(output.status, 1, output.stderr)
        XCTAssertTrue(output.stderr.contains("out/etc: a symlink to '/etc', outside the workspace"), output.stderr)
        let objects = harness.root.appendingPathComponent(".cache/objects").path
        XCTAssertEqual((try? FileManager.default.subpathsOfDirectory(atPath: objects))?.count ?? 0, 0)
    }

    func testItem5_LinksAndModesInADirectoryOutputComeBackFromTheCache() throws {
        let harness = try BinaryHarness()
        let command =
            "mkdir -p out && printf 'echo hi' > out/run.sh && chmod 755 out/run.sh && echo k > out/key "
            + "&& chmod 600 out/key && ln -s run.sh out/latest"
        try harness.write("pipeline.yaml", "stages:\n  a:\n    cmd: \(command)\n    outs: [out]\n")
        XCTAssertEqual(try harness.run(["repro"]).status, 0)
        try FileManager.default.removeItem(at: harness.root.appendingPathComponent("out"))
        let restored = try harness.run(["repro"])
        XCTAssertEqual(restored.status, 0, restored.stderr)
        XCTAssertTrue(restored.stdout.contains("restored"), restored.stdout)
        func permissions(_ path: String) throws -> Int {
            let attributes = try FileManager.default.attributesOfItem(
                atPath: harness.root.appendingPathComponent(path).path)
            return (attributes[.posixPermissions] as? Int) ?? -1
        }
        XCTAssertEqual(try permissions("out/run.sh"), 0o755)
        XCTAssertEqual(try permissions("out/key"), 0o600)
        XCTAssertEqual(
            try FileManager.default.destinationOfSymbolicLink(
                atPath: harness.root.appendingPathComponent("out/latest").path), "run.sh")
        XCTAssertEqual(try harness.run(["status", "--check"]).status, 0)
    }

    private static let torchModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ONNXTests/Fixtures/original_torch.onnx").path

    func testItem3_AbsurdHeaderRatesExitTwoNamingTheHeaderInEveryCommand() throws {
        for rate in ["1e12", "0.000001"] {
            let harness = try BinaryHarness()
            try harness.write("r.hea", "r 1 \(rate) 1000\nr.dat 16 200 16 0 0 0 0 MLII\n")
            try Data(count: 2000).write(to: harness.root.appendingPathComponent("r.dat"))
            let commands = [
                ["wfdb", "info", "r"], ["wfdb", "check", "r"], ["qrs", "r"],
                ["infer", "--model", Self.torchModel, "r"],
            ]
            for command in commands {
                let start = Date()
                let output = try harness.run(command)
                XCTAssertEqual(output.status, 2, "\(rate) \(command): \(output.stdout) \(output.stderr)")
                XCTAssertTrue(
                    output.stderr.contains("r.hea:1: invalid sampling frequency '\(rate)'"),
                    "\(rate) \(command): \(output.stderr)")
                XCTAssertLessThan(Date().timeIntervalSince(start), 10, "\(command)")
            }
        }
    }

    func testItem3_ARecordTooSlowForAnECGExitsTwoInQRSAndInfer() throws {
        let harness = try BinaryHarness()
        try harness.write("r.hea", "r 1 10 1000\nr.dat 16 200 16 0 0 0 0 MLII\n")
        try Data(count: 2000).write(to: harness.root.appendingPathComponent("r.dat"))
        XCTAssertEqual(try harness.run(["wfdb", "info", "r"]).status, 0, "a 10 Hz record is a valid WFDB record")
        for command in [["qrs", "r"], ["infer", "--model", Self.torchModel, "r"]] {
            let output = try harness.run(command)
            XCTAssertEqual(output.status, 2, "\(command): \(output.stderr)")
            XCTAssertTrue(
                output.stderr.contains("r.hea: sampling rate 10.0 Hz is outside 50 Hz to 10 kHz"),
                "\(command): \(output.stderr)")
        }
    }

    func testItem7_RunsSurviveTheLossOfTheWALAfterARepro() throws {
        let harness = try BinaryHarness()
        try harness.write("pipeline.yaml", "stages:\n  a:\n    cmd: echo hi > o\n    outs: [o]\n")
        XCTAssertEqual(try harness.run(["repro"]).status, 0)
        for suffix in ["-wal", "-shm"] {
            try? FileManager.default.removeItem(at: harness.root.appendingPathComponent("runs/pipe.sqlite" + suffix))
        }
        let list = try harness.run(["runs", "list"])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains("succeeded"), list.stdout)
    }

    func testItem7_RunsListReportsAStoreThatLostItsWALInsteadOfListingTooFew() throws {
        let harness = try BinaryHarness()
        try harness.write(
            "pipeline.yaml",
            "stages:\n  a:\n    cmd: if [ -e slow ]; then touch started && sleep 30; fi; echo > o\n    outs: [o]\n")
        XCTAssertEqual(try harness.run(["repro"]).status, 0)
        try harness.write("slow", "")
        let (killed, _, _) = try harness.start(["repro", "--force"])
        try harness.waitForFile("started")
        let children = try harness.read(".cache/children")
        kill(killed.processIdentifier, SIGKILL)
        if let group = children.split(separator: " ").first.flatMap({ pid_t($0) }) { kill(-group, SIGKILL) }
        killed.waitUntilExit()
        let store = harness.root.appendingPathComponent("runs/pipe.sqlite").path
        for suffix in ["-wal", "-shm"] { try FileManager.default.removeItem(atPath: store + suffix) }

        for command in [["runs", "list"], ["runs", "show", "@last"]] {
            let output = try harness.run(command)
            XCTAssertEqual(output.status, 2, "\(command): \(output.stdout)")
            XCTAssertTrue(
                output.stderr.contains("\(store): the run store lost writes: its write-ahead log \(store)-wal is gone"),
                "\(command): \(output.stderr)")
        }
        let repaired = try harness.run(["runs", "list", "--repair"])
        XCTAssertEqual(repaired.status, 0, repaired.stderr)
        XCTAssertTrue(repaired.stdout.contains("succeeded"), repaired.stdout)
        XCTAssertEqual(try harness.run(["runs", "list"]).status, 0, "accepted once, not reported again")
    }

    func testItem10_ARefusedReproIsNotKeptAsARun() throws {
        let harness = try BinaryHarness()
        try harness.write("stages/a.yaml", "n: 1\n")
        try harness.write(
            "pipeline.yaml",
            "stages:\n  a:\n    cmd: touch started && sleep 2 && echo > o\n    params: [n]\n    outs: [o]\n")
        let (first, _, _) = try harness.start(["repro"])
        try harness.waitForFile("started")
        XCTAssertEqual(try harness.run(["repro"]).status, 1, "refused: the workspace is held")
        first.waitUntilExit()
        XCTAssertEqual(try harness.run(["repro", "-S", "a.m=2"]).status, 2, "refused: a -S typo")
        let list = try harness.run(["runs", "list", "--json"])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertEqual(list.stdout.components(separatedBy: "\"status\" : ").count - 1, 1, list.stdout)
        XCTAssertTrue(list.stdout.contains("\"succeeded\""), list.stdout)
    }

    func testItem8_TheCommandAKilledReproLeftRunningIsStoppedByTheNextOne() throws {
        let harness = try BinaryHarness()
        try harness.write(
            "pipeline.yaml",
            "stages:\n  a:\n    cmd: if [ -e second ]; then echo > o; else touch started && sleep 30 && touch late; fi\n"
                + "    outs: [o]\n")
        let (first, _, _) = try harness.start(["repro"])
        try harness.waitForFile("started")
        let children = try harness.read(".cache/children")
        let group = try XCTUnwrap(children.split(separator: " ").first.flatMap { pid_t($0) }, children)
        XCTAssertTrue(children.hasSuffix(" \(harness.root.path)\n"), children)
        kill(first.processIdentifier, SIGKILL)
        // Not waitUntilExit: Foundation waits there until the leftover lets go of what it inherited.
        let dead = Date().addingTimeInterval(5)
        while Date() < dead,
            let stat = try? String(contentsOfFile: "/proc/\(first.processIdentifier)/stat", encoding: .utf8),
            stat.split(separator: ")").last?.split(separator: " ").first != "Z"
        {
            Thread.sleep(forTimeInterval: 0.01)
        }
        XCTAssertEqual(kill(-group, 0), 0, "the command outlives pipe")
        try harness.write("second", "")
        let next = try harness.run(["repro"])
        XCTAssertEqual(next.status, 0, next.stderr)
        let deadline = Date().addingTimeInterval(5)
        while kill(-group, 0) == 0, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        XCTAssertNotEqual(kill(-group, 0), 0, "the leftover group was killed")
        first.waitUntilExit()
    }

    func testItem10_VerifyDuringAReproNamesTheHolder() throws {
        let harness = try BinaryHarness()
        try harness.write(
            "pipeline.yaml", "stages:\n  slow:\n    cmd: touch started && sleep 2 && echo > o\n    outs: [o]\n")
        let (first, _, _) = try harness.start(["repro"])
        try harness.waitForFile("started")
        let verify = try harness.run(["verify"])
        XCTAssertEqual(verify.status, 1)
        XCTAssertTrue(verify.stderr.contains("pid \(first.processIdentifier): pipe repro"), verify.stderr)
        XCTAssertFalse(verify.stderr.contains("does not match"), verify.stderr)
        first.waitUntilExit()
    }
}
