import Experiments
import XCTest

/// The `-S` sweep grammar (Hydra's) and the grid it makes.
final class SweepGrammarTests: XCTestCase {
    func testACommaListIsOneAxisOfYAMLValues() throws {
        let axis = try SweepAxis(parsing: "train.lr=1e-3,3e-3")
        XCTAssertEqual(axis.target, "train.lr")
        XCTAssertEqual(axis.values, ["1e-3", "3e-3"])
        XCTAssertEqual(axis.override(1), "train.lr=3e-3")
    }

    func testAValueWithoutACommaIsOneExperiment() throws {
        XCTAssertEqual(try SweepAxis(parsing: "train.lr=0.01").values, ["0.01"])
        XCTAssertEqual(try SweepAxis(parsing: "train.name=").values, [""], "as pipe repro -S: YAML null")
    }

    func testRangeIsPythonsRangeWithTheStopLeftOut() throws {
        XCTAssertEqual(try SweepAxis(parsing: "train.seed=range(1,9)").values, (1...8).map(String.init))
        XCTAssertEqual(try SweepAxis(parsing: "train.seed=range(3)").values, ["0", "1", "2"])
        XCTAssertEqual(try SweepAxis(parsing: "train.seed=range(10, 0, -4)").values, ["10", "6", "2"])
        XCTAssertEqual(try SweepAxis(parsing: "train.p=range(0,0.3,0.1)").values, ["0.0", "0.1", "0.2"])
    }

    func testQuotedStringsAndFlowCollectionsKeepTheirCommas() throws {
        XCTAssertEqual(try SweepAxis(parsing: "train.name='a,b',\"c\"").values, ["'a,b'", "\"c\""])
        XCTAssertEqual(
            try SweepAxis(parsing: "train.layers=[1,2],[3],{a: 1, b: 2}").values, ["[1,2]", "[3]", "{a: 1, b: 2}"])
        XCTAssertEqual(try SweepAxis(parsing: "train.opt=choice(adam, sgd)").values, ["adam", "sgd"])
    }

    func testMalformedSweepsAreRefusedNamingTheProblem() {
        let cases: [(String, String)] = [
            ("train.lr", "expected STAGE.KEY=VALUE"),
            ("lr=1,2", "expected STAGE.KEY before '='"),
            ("train.lr=1,,2", "an empty value in the list"),
            ("train.lr=1,2,", "an empty value in the list"),
            ("train.seed=range(1,a)", "range needs numbers, not 'a'"),
            ("train.seed=range(5,5)", "is empty"),
            ("train.seed=range(1,2,0)", "range step is 0"),
            ("train.seed=range(1,2,3,4)", "range takes 1 to 3 numbers"),
            ("train.seed=range(1,9", "range(...) is not closed"),
            ("train.name='a,b", "unterminated quoted string"),
            ("train.l=[1,2", "unbalanced brackets"),
            ("train.opt=choice()", "choice() is empty"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try SweepAxis(parsing: text), text) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(expected), "\(text): \(message)")
                XCTAssertTrue(message.contains(text), "the message names the -S text: \(message)")
            }
        }
    }

    func testTheGridIsTheCartesianProductFirstAxisSlowest() throws {
        let grid = try ExperimentGrid(parsing: ["train.lr=1e-3,3e-3", "train.seed=range(1,4)", "prep.n=5"])
        XCTAssertEqual(grid.count, 6)
        XCTAssertEqual(grid.sweptTargets, ["train.lr", "train.seed"])
        let rows = grid.experiments()
        XCTAssertEqual(rows.count, 6)
        XCTAssertEqual(rows[0], ["train.lr=1e-3", "train.seed=1", "prep.n=5"])
        XCTAssertEqual(rows[2], ["train.lr=1e-3", "train.seed=3", "prep.n=5"])
        XCTAssertEqual(rows[3], ["train.lr=3e-3", "train.seed=1", "prep.n=5"])
        XCTAssertEqual(Set(rows.map { $0.joined(separator: " ") }).count, 6)
    }

    func testZipPairsTheListsAndBroadcastsSingleValues() throws {
        let grid = try ExperimentGrid(parsing: ["train.lr=1,2,3", "train.seed=7,8,9", "prep.n=5"], zip: true)
        XCTAssertEqual(grid.count, 3)
        XCTAssertEqual(grid.experiments()[1], ["train.lr=2", "train.seed=8", "prep.n=5"])
        XCTAssertThrowsError(try ExperimentGrid(parsing: ["train.lr=1,2,3", "train.seed=7,8"], zip: true)) { error in
            XCTAssertEqual("\(error)", "--zip needs lists of one length: train.lr has 3, train.seed has 2")
        }
    }

    func testAHugeGridIsCountedWithoutBeingBuilt() throws {
        let grid = try ExperimentGrid(parsing: ["a.x=range(1000)", "a.y=range(1000)", "a.z=range(1000)"])
        XCTAssertEqual(grid.count, 1_000_000_000)
        XCTAssertGreaterThan(grid.count, ExperimentGrid.confirmationLimit)
    }

    func testNoAxesIsOneExperimentWithNoOverrides() {
        XCTAssertEqual(ExperimentGrid(axes: []).experiments(), [[]])
    }

    func testSweepNamesAreFolderSafe() {
        XCTAssertNoThrow(try SweepPlan.checkName("lr-grid_2.b"))
        for bad in ["", ".hidden", "-x", "a/b", "a b", "é"] {
            XCTAssertThrowsError(try SweepPlan.checkName(bad), bad)
        }
    }
}
