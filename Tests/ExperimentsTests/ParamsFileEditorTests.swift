import Experiments
import XCTest

/// `pipe exp apply` rewrites only the values: comments, order and layout stay.
final class ParamsFileEditorTests: XCTestCase {
    func testOnlyTheValuesChange() throws {
        let original = """
            # training params
            lr: 0.001   # Adam's default
            seed: 42
            model:
              depth: 3 # layers
              name: 'small'
            tags: [a, b]
            """
        var editor = ParamsFileEditor(text: original, display: "stages/train.yaml")
        try editor.set("lr", to: "0.01")
        try editor.set("model.depth", to: "5")
        try editor.set("model.name", to: "big")
        try editor.set("tags", to: "[c]")
        XCTAssertEqual(
            editor.text,
            """
            # training params
            lr: 0.01   # Adam's default
            seed: 42
            model:
              depth: 5 # layers
              name: big
            tags: [c]
            """)
    }

    func testAMissingKeyOrABlockScalarIsRefusedNamingTheFile() {
        var editor = ParamsFileEditor(text: "a: 1\nnote: |\n  text\n", display: "stages/x.yaml")
        XCTAssertThrowsError(try editor.set("b", to: "2")) { error in
            XCTAssertEqual("\(error)", "cannot set b in stages/x.yaml: no such key")
        }
        XCTAssertThrowsError(try editor.set("note", to: "2")) { error in
            XCTAssertTrue("\(error)".contains("block scalar"), "\(error)")
        }
    }

    func testStoredValuesBecomeYAMLThatReadsBackTheSame() {
        XCTAssertEqual(ParamsFileEditor.yamlText(forStoredValue: "0.001", isNumber: true), "0.001")
        XCTAssertEqual(ParamsFileEditor.yamlText(forStoredValue: "adam", isNumber: false), "adam")
        XCTAssertEqual(ParamsFileEditor.yamlText(forStoredValue: "true", isNumber: false), "true")
        XCTAssertEqual(ParamsFileEditor.yamlText(forStoredValue: "[1,2]", isNumber: false), "[1,2]")
        XCTAssertEqual(ParamsFileEditor.yamlText(forStoredValue: "a: b", isNumber: false), "\"a: b\"")
        XCTAssertEqual(ParamsFileEditor.yamlText(forStoredValue: "yes", isNumber: false), "\"yes\"")
    }
}
