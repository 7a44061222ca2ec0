import Foundation
import SkiffPOSIX
import Testing

/// The hand reader against Foundation's: the same strings out of the same documents, the same documents refused.
@Suite("JSON scanner")
struct JSONScannerTests {
    /// Every value of an array read as strings (or skipped, for the other kinds), compared with JSONSerialization.
    private static func strings(_ document: String) throws -> [String?] {
        var scanner = JSONScanner(Array(document.utf8))
        var values: [String?] = []
        try scanner.readArray { scanner in
            do {
                var probe = scanner
                values.append(try probe.readString())
                scanner = probe
            } catch {
                try scanner.skipValue()
                values.append(nil)
            }
        }
        try scanner.finish()
        return values
    }

    @Test(arguments: [
        #"[]"#, #"["", "plain", "caf\u00e9", "\ud83d\ude00", "\"\\\/\b\f\n\r\t", "流 ✓"]"#,
        #" [ 1 , -0 , 0.5 , -12.5e-3 , 1E+9 , true , false , null , {} , [] , {"a":[{"b":null}]} ] "#,
        "[\"a\",\n\t\"b\"]\r\n",
    ])
    func readsWhatFoundationReads(document: String) throws {
        let theirs = try #require(JSONSerialization.jsonObject(with: Data(document.utf8)) as? [Any])
        let mine = try Self.strings(document)
        #expect(mine.count == theirs.count)
        for (value, reference) in zip(mine, theirs) {
            #expect(value == reference as? String, "\(document)")
        }
    }

    @Test(arguments: [
        "", "[", "[,]", "[01]", "[1.]", "[.5]", "[-]", "[1e]", "[tru]", "[nul]", "[\"a]", "[\"\\x\"]",
        "[\"\\u12\"]", "[\"\\ud83d\"]", "[\"\\ude00\"]", "[\"\u{1}\"]", "[] []", "[1 2]", "{\"a\" 1}", "{1:2}",
    ])
    func refusesWhatFoundationRefuses(document: String) {
        #expect(throws: (any Error).self) { try JSONSerialization.jsonObject(with: Data(document.utf8)) }
        #expect(throws: JSONScanner.Malformed.self) { try Self.strings(document) }
    }

    @Test func refusesBytesThatAreNotUTF8() {
        let document: [UInt8] = Array("[\"".utf8) + [0xC3, 0x28] + Array("\"]".utf8)
        var scanner = JSONScanner(document)
        #expect(throws: JSONScanner.Malformed.self) { try scanner.readArray { _ = try $0.readString() } }
    }

    @Test func readsObjectsKeyByKey() throws {
        var scanner = JSONScanner(Array(#"{"a": "x", "skip": {"deep": [1, 2]}, "b": true, "c": null}"#.utf8))
        var seen: [String] = []
        var a = ""
        var b = false
        var c = true
        try scanner.readObject { scanner, key in
            seen.append(key)
            switch key {
            case "a": a = try scanner.readString()
            case "b": b = try scanner.readBool()
            case "c": c = !(try scanner.readNull())
            default: try scanner.skipValue()
            }
        }
        try scanner.finish()
        #expect(seen == ["a", "skip", "b", "c"] && a == "x" && b && !c)
    }

    /// Any bytes may be published to the queue: a million brackets are refused, not a stack overflow.
    @Test func deepNestingIsRefusedNotRecursedInto() throws {
        var deep = JSONScanner(Array(repeating: UInt8(ascii: "["), count: 1_000_000))
        #expect(throws: JSONScanner.Malformed.self) { try deep.skipValue() }
        let limit = JSONScanner.maximumDepth
        var allowed = JSONScanner(
            Array((String(repeating: "[", count: limit) + String(repeating: "]", count: limit)).utf8))
        try allowed.skipValue()
        try allowed.finish()
    }
}
