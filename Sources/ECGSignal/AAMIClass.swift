import Foundation

/// The five beat classes of ANSI/AAMI EC57 used in the arrhythmia literature.
public enum AAMIClass: String, Sendable, CaseIterable, Codable, Comparable {
    /// Normal and bundle-branch-block beats, escape beats.
    case N
    /// Supraventricular ectopic beats.
    case S
    /// Ventricular ectopic beats.
    case V
    /// Fusion of ventricular and normal beats.
    case F
    /// Paced, fusion of paced and normal, and unclassifiable beats.
    case Q

    /// Index in N, S, V, F, Q order (the class id written to datasets).
    public var index: Int { Self.allCases.firstIndex(of: self) ?? 0 }

    public static func < (left: AAMIClass, right: AAMIClass) -> Bool { left.index < right.index }
}

/// Errors in a label map.
public enum ECGSignalError: Error, Equatable, CustomStringConvertible {
    /// A class name that is not N, S, V, F or Q.
    case unknownClass(String)
    /// An annotation symbol listed under two classes.
    case symbolInTwoClasses(symbol: String, first: String, second: String)

    public var description: String {
        switch self {
        case .unknownClass(let name):
            return "label map: unknown class '\(name)' (expected one of N, S, V, F, Q)"
        case .symbolInTwoClasses(let symbol, let first, let second):
            return "label map: symbol '\(symbol)' is listed under both \(first) and \(second)"
        }
    }
}

/// Maps annotation symbols to AAMI classes; symbols the map does not name (non-beats, and beats such as `B`,
/// `r`, `n`, `?` unless added) have no class and are skipped by callers.
public struct AAMILabelMap: Equatable, Sendable {
    public private(set) var classBySymbol: [String: AAMIClass]

    /// The map of the original project (DESIGN.md): N = N L R e j; S = A a J S; V = V E; F = F; Q = / f Q.
    public static let standard = AAMILabelMap(uncheckedClasses: [
        .N: ["N", "L", "R", "e", "j"], .S: ["A", "a", "J", "S"], .V: ["V", "E"], .F: ["F"], .Q: ["/", "f", "Q"],
    ])

    private init(uncheckedClasses: [AAMIClass: [String]]) {
        var table: [String: AAMIClass] = [:]
        for (beatClass, symbols) in uncheckedClasses { for symbol in symbols { table[symbol] = beatClass } }
        classBySymbol = table
    }

    /// A map from class names to symbol lists, as written in `stages/preprocess.yaml`; throws for a class that
    /// is not N, S, V, F or Q, or a symbol listed twice.
    public init(classes: [String: [String]]) throws {
        var table: [String: AAMIClass] = [:]
        var owner: [String: String] = [:]
        for name in classes.keys.sorted() {
            guard let beatClass = AAMIClass(rawValue: name) else { throw ECGSignalError.unknownClass(name) }
            for symbol in classes[name] ?? [] {
                if let first = owner[symbol], first != name {
                    throw ECGSignalError.symbolInTwoClasses(symbol: symbol, first: first, second: name)
                }
                owner[symbol] = name
                table[symbol] = beatClass
            }
        }
        classBySymbol = table
    }

    /// The class of an annotation symbol, or nil when the map leaves it out.
    public func beatClass(for symbol: String) -> AAMIClass? { classBySymbol[symbol] }
}
