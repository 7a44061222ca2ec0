import SkiffStack
import Testing

@testable import skiff

@Suite("client command lines")
struct ClientArgumentsTests {
    static let options: [Arguments.Option] = [
        CommonOptions.gateway, CommonOptions.namespace, CommonOptions.json,
        .value("--header", "-H", name: "K=V", help: ""),
    ]

    @Test func optionsSwitchesAndPositionals() throws {
        let parsed = try Arguments(
            ["fn", "-n", "dev", "--json", "-H", "a=1", "--header=b=2", "--", "--not-an-option"], options: Self.options)
        #expect(parsed.positionals == ["fn", "--not-an-option"])
        #expect(parsed.value("--namespace") == "dev" && parsed.isSet("--json"))
        #expect(try parsed.pairs("--header").map { "\($0.0)=\($0.1)" } == ["a=1", "b=2"])
        #expect(throws: Arguments.UsageError.self) { try Arguments(["--bogus"], options: Self.options) }
        #expect(throws: Arguments.UsageError.self) { try Arguments(["-n"], options: Self.options) }
        #expect(throws: Arguments.UsageError.self) {
            try Arguments(["-H", "novalue"], options: Self.options).pairs("--header")
        }
    }

    /// --gateway, else OPENFAAS_URL, else the stack file's provider.gateway, else the local default: the
    /// environment wins over the stack file, as in faas-cli.
    @Test func gatewayPrecedence() throws {
        let stack = try StackFile(text: "provider:\n  gateway: http://stack:8080\n", environment: [:])
        func url(_ arguments: [String], _ environment: [String: String], _ stack: StackFile?) throws -> String {
            ClientContext(arguments: try Arguments(arguments, options: Self.options), environment: environment)
                .gatewayURL(stack: stack)
        }
        #expect(try url(["-g", "http://flag:1"], ["OPENFAAS_URL": "http://env:2"], stack) == "http://flag:1")
        #expect(try url([], ["OPENFAAS_URL": "http://env:2"], stack) == "http://env:2")
        #expect(try url([], ["OPENFAAS_URL": ""], stack) == "http://stack:8080")
        #expect(try url([], [:], nil) == "http://127.0.0.1:8080")
    }
}

@Suite("terminal output")
struct TerminalTextTests {
    /// A log line that would clear the screen, retitle the window or overwrite itself is printed, not obeyed.
    @Test func controlCharactersAreShownNotObeyed() {
        #expect(TerminalText.escapingControls("plain\ttext ünïcode") == "plain\ttext ünïcode")
        #expect(TerminalText.escapingControls("\u{1B}[2Jgone") == "\\x1B[2Jgone")
        #expect(TerminalText.escapingControls("\u{1B}]0;owned\u{07}") == "\\x1B]0;owned\\x07")
        #expect(TerminalText.escapingControls("fake\rreal") == "fake\\x0Dreal")
        #expect(TerminalText.escapingControls("c1\u{9B}31m") == "c1\\x9B31m")
        #expect(TerminalText.escapingControls("nul\u{0}del\u{7F}") == "nul\\x00del\\x7F")
    }
}
