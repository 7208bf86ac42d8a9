import Foundation
import PipelineEngine

/// Renders a stage graph as an indented ASCII tree (a stage reached twice is drawn once and then referenced),
/// Graphviz dot, or a Mermaid flowchart.
struct DagDrawing {
    let graph: StageGraph

    func ascii() -> String {
        var lines: [String] = []
        var drawn = Set<String>()
        func draw(_ name: String, prefix: String, connector: String, childPrefix: String) {
            if drawn.contains(name) {
                lines.append(prefix + connector + name + " (see above)")
                return
            }
            drawn.insert(name)
            lines.append(prefix + connector + name)
            let children = graph.downstream[name] ?? []
            for (index, child) in children.enumerated() {
                let last = index == children.count - 1
                draw(
                    child, prefix: prefix + childPrefix, connector: last ? "└─▶ " : "├─▶ ",
                    childPrefix: last ? "    " : "│   ")
            }
        }
        for root in graph.order where (graph.upstream[root] ?? []).isEmpty {
            draw(root, prefix: "", connector: "", childPrefix: "")
        }
        return lines.joined(separator: "\n")
    }

    func dot() -> String {
        var lines = ["digraph pipeline {", "  rankdir=TB;", "  node [shape=box];"]
        for name in graph.order { lines.append("  \"\(name)\";") }
        for name in graph.order {
            for child in graph.downstream[name] ?? [] { lines.append("  \"\(name)\" -> \"\(child)\";") }
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    func mermaid() -> String {
        var lines = ["flowchart TD"]
        let ids = Dictionary(uniqueKeysWithValues: graph.order.enumerated().map { ($1, "s\($0)") })
        for name in graph.order { lines.append("  \(ids[name] ?? name)[\"\(name)\"]") }
        for name in graph.order {
            for child in graph.downstream[name] ?? [] {
                lines.append("  \(ids[name] ?? name) --> \(ids[child] ?? child)")
            }
        }
        return lines.joined(separator: "\n")
    }
}
