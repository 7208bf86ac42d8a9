import JSONText
import XCTest

final class TextEscapingTests: XCTestCase {
    func testJSONLiteralEscapesQuotesBackslashesAndControlCharactersOnly() {
        XCTAssertEqual(JSONString.literal("a\"b\\c\nd\re\tf\u{1}g"), #""a\"b\\c\nd\re\tf\u0001g""#)
        XCTAssertEqual(JSONString.literal("é ✓ </script>"), "\"é ✓ </script>\"")
        XCTAssertEqual(JSONString.literal(""), "\"\"")
    }

    func testXMLEntitiesReplaceTheFiveAndKeepEverythingElse() {
        XCTAssertEqual(
            TextEscaping.replacing("<a b=\"c\">'&' ≮</a>", TextEscaping.xmlEntity),
            "&lt;a b=&quot;c&quot;&gt;&apos;&amp;&apos; ≮&lt;/a&gt;")
        // A combining mark after '<' is another scalar: the '<' is still escaped.
        XCTAssertEqual(TextEscaping.replacing("<\u{338}", TextEscaping.xmlEntity), "&lt;\u{338}")
    }
}
