import Testing

@testable import skiff

@Suite("skiff serve options")
struct ServeOptionsTests {
    @Test func defaultsEnvironmentAndFlags() throws {
        #expect(try ServeOptions.parse([], environment: [:]) == ServeOptions())
        let fromEnvironment = try ServeOptions.parse(
            [], environment: ["SKIFF_LISTEN": "127.0.0.1:9", "SKIFF_STATE_DIR": "/tmp/s"])
        #expect(fromEnvironment.listen == "127.0.0.1:9" && fromEnvironment.stateDirectory == "/tmp/s")
        let flagsWin = try ServeOptions.parse(
            ["--listen", "[::1]:8080", "--state-dir=/srv/skiff"], environment: ["SKIFF_LISTEN": "127.0.0.1:9"])
        #expect(flagsWin.listen == "[::1]:8080" && flagsWin.stateDirectory == "/srv/skiff")
    }

    @Test(arguments: [["--listen"], ["--listen", "example.org:80"], ["--state-dir", "relative"], ["--bogus"]])
    func badOptionsAreRejected(_ arguments: [String]) {
        #expect(throws: ServeOptions.Invalid.self) { try ServeOptions.parse(arguments, environment: [:]) }
    }
}
