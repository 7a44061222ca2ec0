import Foundation
import SkiffPOSIX
import SkiffStack
import SkiffTestSupport
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

/// What `skiff` says about stack files, run as a user would, in a folder of the test's own.
@Suite("stack file messages")
struct StackFileMessageTests {
    func skiff(_ arguments: String, in folder: String) async throws -> ChildProcess.Outcome {
        try await ChildProcess(
            "/bin/sh",
            [
                "-c", "cd \"$0\" && OPENFAAS_URL=http://127.0.0.1:9 exec \"$1\" " + arguments, folder,
                skiffBinary(),
            ]
        ).run()
    }

    @Test func aMissingFileGivenWithFIsSaidToBeMissing() async throws {
        let folder = try makeFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let outcome = try await skiff("up -f missing.yml", in: folder)
        #expect(outcome.exitCode != 0)
        #expect(outcome.errorText.contains("the stack file missing.yml does not exist"), "\(outcome.errorText)")
    }

    /// Without -f, up, build, deploy and remove read stack.yml (then stack.yaml) where they run, as faas-cli does;
    /// a stack file with a mistake shows that it was read.
    @Test(arguments: ["up", "build", "deploy", "remove"])
    func withoutFTheFolderStackFileIsRead(_ verb: String) async throws {
        let folder = try makeFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "provider:\n  name: openfaas\nfunctions:\n  fn:\n    image: x\n    imgae: typo\n".write(
            toFile: folder + "/stack.yaml", atomically: true, encoding: .utf8)
        let outcome = try await skiff(verb, in: folder)
        #expect(outcome.exitCode != 0)
        #expect(outcome.errorText.contains("stack.yaml") && outcome.errorText.contains("imgae"), "\(outcome.errorText)")
    }

    @Test func withNoStackFileUpSaysHowToNameOne() async throws {
        let folder = try makeFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let outcome = try await skiff("up", in: folder)
        #expect(outcome.exitCode == 2)
        #expect(outcome.errorText.contains("no stack file: pass one with -f"), "\(outcome.errorText)")
    }

    private func makeFolder() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-cli-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }
}

@Suite("help layout")
struct HelpLayoutTests {
    /// Every verb's options: descriptions in one column, at least two spaces after the widest option.
    @Test(arguments: [
        "login", "new", "build", "deploy", "up", "list", "describe", "invoke", "remove", "logs", "scale",
        "secret", "namespace", "version",
    ])
    func everyVerbsHelpIsAligned(_ verb: String) async throws {
        let outcome = try await ChildProcess(skiffBinary(), [verb, "--help"]).run()
        let lines = outcome.outputText.split(separator: "\n").drop { $0 != "options:" }.dropFirst()
        #expect(!lines.isEmpty, "\(verb) --help: \(outcome.outputText)")
        var columns: Set<Int> = []
        for line in lines where line.hasPrefix("  -") {
            // The description starts after the first run of two or more spaces past the option names.
            guard let gap = line.dropFirst(2).range(of: "  ") else {
                Issue.record("\(verb): no gap in '\(line)'")
                continue
            }
            columns.insert(
                line.distance(from: line.startIndex, to: gap.lowerBound)
                    + line[gap.lowerBound...].prefix { $0 == " " }.count)
        }
        #expect(columns.count == 1, "\(verb): descriptions start in columns \(columns.sorted())")
    }
}

@Suite("skiff new's next step")
struct NewNextStepTests {
    /// With the template's base image nowhere in containerd (no registry on a lab VM), the next step printed is
    /// the offline build; a busybox template needs nothing and gets plain `skiff up`.
    @Test(.enabled(if: getuid() == 0 || RealParts.isCI))
    func theNextStepWorksOffline() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-new-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func new(_ lang: String, _ name: String) async throws -> String {
            try await ChildProcess(
                "/bin/sh",
                ["-c", "cd \"$0\" && exec \"$1\" new --lang \"$2\" \"$3\"", folder, skiffBinary(), lang, name]
            ).runChecked().outputText
        }
        let base = "docker.io/library/python:3.11-slim-bookworm"
        var local = false
        for line in try await ChildProcess("/usr/bin/ctr", ["namespaces", "ls", "-q"]).runChecked().outputText
            .split(separator: "\n")
        {
            let images = try await ChildProcess("/usr/bin/ctr", ["-n", String(line), "images", "ls", "-q"]).run()
            if images.outputText.split(separator: "\n").contains(Substring(base)) { local = true }
        }
        let python = try await new("python3-lambda", "hello")
        if local {
            #expect(python.contains("next: skiff up -f hello.yml\n"), "\(python)")
        } else {
            #expect(
                python.contains("next: skiff up -f hello.yml --base oci-archive:$(scripts/python-base)"), "\(python)")
        }
        #expect(try await new("shell", "plain").contains("next: skiff up -f plain.yml\n"))
    }
}

@Suite("faas-cli's config file")
struct ConfigFileTests {
    /// Logging out of the last gateway leaves the file as faas-cli would: `auths: []`, not an empty key.
    @Test func theLastLogoutLeavesAnEmptyList() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-config-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "auths:\n- gateway: http://127.0.0.1:9\n  auth: basic\n  token: YWRtaW46eA==\n".write(
            toFile: folder + "/config.yml", atomically: true, encoding: .utf8)
        var logout = ChildProcess(skiffBinary(), ["logout", "--gateway", "http://127.0.0.1:9"])
        logout.environment = ["OPENFAAS_CONFIG": folder, "PATH": "/usr/bin:/bin"]
        let outcome = try await logout.run()
        #expect(outcome.succeeded, "\(outcome.errorText)")
        #expect(try String(contentsOfFile: folder + "/config.yml", encoding: .utf8) == "auths: []\n")
    }
}
