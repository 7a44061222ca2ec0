import Foundation
import SkiffPOSIX
import Testing

/// Strings written by hand read back as the same strings, for every byte that must be escaped and around it.
@Suite("JSON text")
struct JSONTextTests {
    @Test(arguments: [
        "", "plain", "\"", "\\", "a\"b\\c", "\u{0}", "\u{1f}end", "start\u{7}", "tab\there\r\nnext",
        "caf\u{e9} \u{1F6F6} \u{7f}", String(repeating: "x", count: 300) + "\"" + String(repeating: "y", count: 300),
    ])
    func aQuotedStringReadsBackAsItself(text: String) throws {
        var bytes: [UInt8] = []
        JSONText.appendQuoted(text, to: &bytes)
        let decoded = try JSONDecoder().decode([String].self, from: Data("[".utf8 + bytes + "]".utf8))
        #expect(decoded == [text])
        // Only what JSON requires is escaped: a string with none of it is copied as it is.
        if !text.utf8.contains(where: { $0 == 0x22 || $0 == 0x5C || $0 < 0x20 }) {
            #expect(bytes == [0x22] + Array(text.utf8) + [0x22])
        }
    }
}
