import Foundation
import XCTest

@testable import PipelineEngine

/// Issue 20, item 4: a `-S` that names no declared param is refused (exit 2) naming the closest one,
/// instead of being silently ignored.
final class OverrideBindingTests: XCTestCase {
    private func refusal(_ text: String, in fixture: TemporaryWorkspace) throws -> PipelineError? {
        let override = try ParamOverride(parsing: text)
        do {
            try fixture.repro { $0.overrides = [override] }
            return nil
        } catch let error as PipelineError {
            return error
        }
    }

    func testItem4_ASetNamingAnUnknownStageIsRefusedNamingTheClosestParam() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        let error = try refusal("trian.epochs=3", in: fixture)
        XCTAssertEqual(
            error,
            .unknownOverride(
                text: "trian.epochs=3", problem: "no stage reads params from stages/trian.yaml",
                suggestion: "train.epochs"))
        XCTAssertEqual(
            error?.description,
            "bad --set 'trian.epochs=3': no stage reads params from stages/trian.yaml; did you mean 'train.epochs'?")
        XCTAssertFalse(fixture.exists("runs.log"), "nothing ran")
    }

    func testItem4_ASetNamingAnUndeclaredKeyIsRefusedNamingTheClosestKey() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        XCTAssertEqual(
            try refusal("train.epohcs=3", in: fixture),
            .unknownOverride(
                text: "train.epohcs=3", problem: "no stage declares param 'epohcs' of stages/train.yaml",
                suggestion: "train.epochs"))
        XCTAssertFalse(fixture.exists("runs.log"), "nothing ran")
    }

    func testItem4_ASetNamingAKeyLikeNoDeclaredOneListsTheDeclaredKeys() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        XCTAssertEqual(
            try refusal("train.name=x", in: fixture),
            .unknownOverride(
                text: "train.name=x",
                problem: "no stage declares param 'name' of stages/train.yaml (declared: epochs, lr)",
                suggestion: nil))
    }

    func testItem4_ASetOfAKeyInTheFileButNotDeclaredIsRefused() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        try fixture.write("stages/train.yaml", "lr: 0.001\nepochs: 10\nname: base\n")
        guard case .unknownOverride(_, let problem, _)? = try refusal("train.name=x", in: fixture) else {
            return XCTFail("accepted an override of a key no stage reads")
        }
        XCTAssertTrue(problem.hasPrefix("no stage declares param 'name'"), problem)
    }

    func testItem4_StatusRefusesAnUnknownSetToo() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.writeDiamondPipeline()
        XCTAssertThrowsError(
            try fixture.workspace.status(overrides: [try ParamOverride(parsing: "train.epohcs=3")])
        ) { error in
            guard case .unknownOverride? = error as? PipelineError else { return XCTFail("\(error)") }
        }
    }

    func testItem4_ASetOfADeclaredParamOfAStageWithADotInItsNameBinds() throws {
        let fixture = try TemporaryWorkspace()
        try fixture.write("stages/fit.v2.yaml", "lr: 0.1\n")
        try fixture.write(
            "pipeline.yaml",
            "stages:\n  fit.v2:\n    cmd: grep lr stages/fit.v2.yaml > o\n    params: [lr]\n    outs: [o]\n")
        let override = try ParamOverride(parsing: "fit.v2.lr=0.5")
        let (summary, _) = try fixture.repro { $0.overrides = [override] }
        XCTAssertEqual(summary.stages(.ran), ["fit.v2"])
        XCTAssertTrue(try fixture.read("pipeline.lock").contains("\"lr\": 0.5"))
    }

    func testATranspositionIsOneEdit() {
        XCTAssertEqual(ClosestName.distance("epohcs", "epochs"), 1)
        XCTAssertEqual(ClosestName.distance("trian", "train"), 1)
        XCTAssertEqual(ClosestName.distance("kitten", "sitting"), 3)
        XCTAssertEqual(ClosestName.distance("", "abc"), 3)
    }

    func testNoSuggestionWhenNothingIsClose() {
        XCTAssertNil(ClosestName.find("name", among: ["epochs", "lr"]))
        XCTAssertEqual(ClosestName.find("lrr", among: ["epochs", "lr"]), "lr")
    }
}
