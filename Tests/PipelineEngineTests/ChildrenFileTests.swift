import Foundation
import SystemFacts
import XCTest

@testable import PipelineEngine

/// Issue 20, item 8: `.cache/children` names the process groups of commands a killed repro left running. The next
/// repro kills only what it recognises as its own: never a process whose pid merely appears there.
final class ChildrenFileTests: XCTestCase {
    private var started: [pid_t] = []

    override func tearDown() {
        for pid in started { kill(pid, SIGKILL) }
    }

    /// Runs `script` with `/bin/sh` in a new session (its own process group) and returns the shell's pid (the
    /// group's id) once the script has written `ready`.
    private func startSession(_ script: String, in directory: URL) throws -> pid_t {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = ["/bin/sh", "-c", "echo $$ > leader\n" + script + "\necho > ready\nwait"]
        process.currentDirectoryURL = directory
        try process.run()
        started.append(process.processIdentifier)
        let ready = directory.appendingPathComponent("ready").path
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: ready), Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        let text = try String(contentsOf: directory.appendingPathComponent("leader"), encoding: .utf8)
        let leader = try XCTUnwrap(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        started.append(leader)
        return leader
    }

    private func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?
            .split(separator: ")").last?.split(separator: " ").first
        return state != "Z"
    }

    private func waitUntilDead(_ pid: pid_t) -> Bool {
        let deadline = Date().addingTimeInterval(5)
        while isAlive(pid), Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        return !isAlive(pid)
    }

    private func pid(in fixture: TemporaryWorkspace, _ file: String) throws -> pid_t {
        try XCTUnwrap(pid_t(try fixture.read(file).trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    private func reproWithChildren(_ fixture: TemporaryWorkspace, _ lines: [String]) throws {
        try fixture.write("pipeline.yaml", "stages:\n  a:\n    cmd: echo > o\n    outs: [o]\n")
        try fixture.write(".cache/children", lines.joined(separator: "\n") + "\n")
        try fixture.repro()
        XCTAssertFalse(fixture.exists(".cache/children"))
    }

    func testItem8_AnUnrelatedGroupNamedByABarePidIsNotKilled() throws {
        let fixture = try TemporaryWorkspace()
        let leader = try startSession("sleep 30 &", in: fixture.root)
        try reproWithChildren(fixture, ["\(leader)"])
        XCTAssertTrue(isAlive(leader), "a bare pid, as older pipes or anyone might write, is not trusted")
    }

    func testItem8_AGroupWhoseLeaderStartedAtAnotherTimeIsNotKilled() throws {
        let fixture = try TemporaryWorkspace()
        let leader = try startSession("sleep 30 &", in: fixture.root)
        let ticks = try XCTUnwrap(ProcessStat.startTicks(of: leader))
        try reproWithChildren(fixture, ["\(leader) \(ticks - 1) token \(fixture.workspace.root.path)"])
        XCTAssertTrue(isAlive(leader), "the pid was reused by another process")
    }

    func testItem8_AGroupOfAnotherWorkspaceIsNotKilled() throws {
        let fixture = try TemporaryWorkspace()
        let leader = try startSession("sleep 30 &", in: fixture.root)
        let ticks = try XCTUnwrap(ProcessStat.startTicks(of: leader))
        try reproWithChildren(fixture, ["\(leader) \(ticks) token /somewhere/else"])
        XCTAssertTrue(isAlive(leader))
    }

    func testItem8_AnOwnLeftoverWhoseLeaderLivesIsKilledWithItsGroup() throws {
        let fixture = try TemporaryWorkspace()
        let leader = try startSession("sleep 30 & echo $! > member", in: fixture.root)
        let member = try pid(in: fixture, "member")
        let ticks = try XCTUnwrap(ProcessStat.startTicks(of: leader))
        try reproWithChildren(fixture, ["\(leader) \(ticks) token \(fixture.workspace.root.path)"])
        XCTAssertTrue(waitUntilDead(leader))
        XCTAssertTrue(waitUntilDead(member))
    }

    func testItem8_OnceTheLeaderIsGoneOnlyMembersCarryingTheTokenAreKilled() throws {
        let fixture = try TemporaryWorkspace()
        let script =
            "PIPE_CHILD_TOKEN=abc123 sleep 30 &\necho $! > marked\nsleep 30 &\necho $! > unmarked\necho > ready\nexit"
        let leader = try startSession(script, in: fixture.root)
        let marked = try pid(in: fixture, "marked")
        let unmarked = try pid(in: fixture, "unmarked")
        started += [marked, unmarked]
        XCTAssertTrue(waitUntilDead(leader), "the group outlives its leader")
        try reproWithChildren(fixture, ["\(leader) 1 abc123 \(fixture.workspace.root.path)"])
        XCTAssertTrue(waitUntilDead(marked), "the command's own leftover")
        XCTAssertTrue(isAlive(unmarked), "a member without the token may belong to a newer group with that id")
    }

    func testTheChildrenLineRoundTrips() {
        let child = ChildGroup(group: 4242, startTicks: 99, token: "f00d", workspace: "/work/my project")
        XCTAssertEqual(ChildGroup(line: Substring(child.line)), child)
        XCTAssertNil(ChildGroup(line: "4242"))
        XCTAssertNil(ChildGroup(line: "1 5 t /w"), "never the init process's group")
    }
}
