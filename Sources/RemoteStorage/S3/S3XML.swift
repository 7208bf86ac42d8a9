import Foundation
import JSONText

#if canImport(FoundationXML)
import FoundationXML
#endif

/// An element of an S3 XML document: its local name (namespaces dropped), its text, its child elements.
/// S3's answers are small and shallow, so a tree is simpler than a streaming reader per call.
final class S3XMLNode {
    let name: String
    var text = ""
    var children: [S3XMLNode] = []

    init(name: String) { self.name = name }

    func child(_ name: String) -> S3XMLNode? { children.first { $0.name == name } }
    func children(_ name: String) -> [S3XMLNode] { children.filter { $0.name == name } }
    /// The text of the first child called `name`, trimmed; nil without one.
    func string(_ name: String) -> String? {
        child(name).map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// The root element of `data`, or nil when it is not well-formed XML.
    static func parse(_ data: Data) -> S3XMLNode? {
        let parser = XMLParser(data: data)
        let builder = TreeBuilder()
        parser.delegate = builder
        parser.shouldProcessNamespaces = true
        parser.shouldResolveExternalEntities = false
        guard parser.parse() else { return nil }
        return builder.root
    }

    private final class TreeBuilder: NSObject, XMLParserDelegate {
        var root: S3XMLNode?
        private var stack: [S3XMLNode] = []

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            let node = S3XMLNode(name: elementName)
            if let parent = stack.last { parent.children.append(node) } else if root == nil { root = node }
            stack.append(node)
        }

        func parser(
            _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?
        ) {
            _ = stack.popLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            stack.last?.text += string
        }
    }
}

/// XML text with `& < > " '` escaped, for keys in request bodies.
func xmlEscaped(_ text: String) -> String {
    TextEscaping.replacing(text, TextEscaping.xmlEntity)
}

/// An error answer from S3: the status and, when the body is S3's `<Error>` document, its code and message.
/// HEAD answers have no body, hence no code.
struct S3ErrorResponse: Error {
    var status: Int
    var code: String
    var message: String
    /// The bucket's region, from `x-amz-bucket-region` or the error's `<Region>`: what a wrong `region:` needs.
    var bucketRegion: String?

    init(status: Int, code: String, message: String, bucketRegion: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.bucketRegion = bucketRegion
    }

    /// From an `<Error>` document (or any body: an unparsable one gives no code).
    init(status: Int, reason: String, body: Data, bucketRegionHeader: String?) {
        let root = S3XMLNode.parse(body)
        let error = root?.name == "Error" ? root : nil
        self.status = status
        code = error?.string("Code") ?? ""
        message = error?.string("Message") ?? (code.isEmpty ? reason : "")
        bucketRegion = bucketRegionHeader ?? error?.string("Region")
    }

    /// S3's advice: these are worth another attempt (throttling, a timeout on its side, its own failure).
    var isRetryable: Bool {
        status >= 500 || status == 429 || ["SlowDown", "RequestTimeout", "InternalError"].contains(code)
    }
}
