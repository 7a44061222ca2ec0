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
