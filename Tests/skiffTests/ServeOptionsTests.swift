import Testing

@testable import skiff

@Suite("skiff serve options")
struct ServeOptionsTests {
    /// Every description starts in one column, at least two spaces after the longest flag (a flag once ran into
    /// its description: "--deploy-timeout VALUhow long…").
    @Test func helpKeepsFlagsAndDescriptionsApart() {
        let lines = ServeOptions.help.split(separator: "\n").filter {
            $0.hasPrefix("  --") && !$0.hasPrefix("  --config")
        }
        #expect(lines.count == ServeOptions.settings.count)
        let columns = Set(
            lines.map { line -> Int in
                let flagEnd = line.range(of: " VALUE")?.upperBound ?? line.endIndex
                let rest = line[flagEnd...]
                #expect(rest.hasPrefix("  "), "\(line)")
                return line.distance(from: line.startIndex, to: flagEnd) + rest.prefix { $0 == " " }.count
            })
        #expect(columns.count == 1, "descriptions start in columns \(columns.sorted())")
    }

    @Test func defaultsEnvironmentAndFlags() throws {
        #expect(try ServeOptions.parse([], environment: [:], readFile: { _ in nil }) == ServeOptions())
        let fromEnvironment = try ServeOptions.parse(
            [], environment: ["SKIFF_LISTEN": "127.0.0.1:9", "SKIFF_STATE_DIR": "/tmp/s"])
        #expect(fromEnvironment.listen == "127.0.0.1:9" && fromEnvironment.stateDirectory == "/tmp/s")
        let flagsWin = try ServeOptions.parse(
            ["--listen", "[::1]:8080", "--state-dir=/srv/skiff"], environment: ["SKIFF_LISTEN": "127.0.0.1:9"])
        #expect(flagsWin.listen == "[::1]:8080" && flagsWin.stateDirectory == "/srv/skiff")
    }

    @Test func configFileUnderEnvironmentUnderFlags() throws {
        let file = """
            # Skiff on a lab VM
            listen = 0.0.0.0:9090
            bridge = lab0   # a comment after a value
            subnet = 10.70.0.0/16
            deploy_timeout = 2m
            """
        let read: (String) -> String? = { $0 == "/etc/skiff/lab.conf" ? file : nil }
        let options = try ServeOptions.parse(
            ["--config", "/etc/skiff/lab.conf", "--subnet=10.80.0.0/16"],
            environment: ["SKIFF_BRIDGE": "env0"], readFile: read)
        #expect(options.listen == "0.0.0.0:9090")
        #expect(options.bridge == "env0")
        #expect(options.subnet == "10.80.0.0/16")
        #expect(options.deployTimeout == "2m")
        // The default file is optional; a named one must exist; unknown keys are errors that list the known ones.
        #expect(try ServeOptions.parse([], environment: [:], readFile: { _ in nil }) == ServeOptions())
        #expect(throws: ServeOptions.Invalid.self) {
            try ServeOptions.parse(["--config", "/nope"], environment: [:], readFile: { _ in nil })
        }
        #expect {
            try ServeOptions.parse([], environment: [:], readFile: { _ in "colour = blue" })
        } throws: { error in
            "\(error)".contains("/etc/skiff/skiff.conf:1") && "\(error)".contains("state_dir")
        }
    }

    @Test(arguments: [
        ["--listen"], ["--listen", "example.org:80"], ["--state-dir", "relative"], ["--bogus"],
        ["--log-sink", "syslog"], ["--bridge", "a-very-long-bridge-name"], ["--image-gc-high", "0"],
        ["--image-gc-high", "101"], ["--image-gc-low", "85"], ["--image-gc-high", "50", "--image-gc-low", "60"],
        ["--containerd-root", "var/lib/containerd"],
    ])
    func badOptionsAreRejected(_ arguments: [String]) {
        #expect(throws: ServeOptions.Invalid.self) { try ServeOptions.parse(arguments, environment: [:]) }
    }
}
