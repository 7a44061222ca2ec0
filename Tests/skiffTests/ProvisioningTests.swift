import Foundation
import Glibc
import SkiffHTTP
import SkiffPOSIX
import SkiffTestSupport
import Testing

/// A stand-in `multipass` on PATH: it records every call, keeps what `launch` and `transfer` were given, and
/// answers `info` and `exec` the way the real one does.
struct FakeMultipass {
    let directory: String
    private let script: String
    var log: String { directory + "/calls.log" }

    init(addresses: [String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-multipass-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory + "/bin", withIntermediateDirectories: true)
        let script = """
            #!/bin/sh
            echo "$*" >>"\(directory)/calls.log"
            case "$1" in
            launch)
                while [ $# -gt 0 ]; do
                    [ "$1" = --cloud-init ] && cp "$2" "\(directory)/cloud-init.yaml"
                    shift
                done ;;
            transfer) cp "$2" "\(directory)/transferred" ;;
            info) cat "\(directory)/info.json" ;;
            exec) case "$*" in *basic-auth-password*) echo pw-from-the-vm ;; esac ;;
            esac
            """
        self.script = script
        let quoted = addresses.map { "                \"\($0)\"" }.joined(separator: ",\n")
        let info = """
            {
                "errors": [
                ],
                "info": {
                    "lab": {
                        "image_release": "24.04 LTS",
                        "ipv4": [
            \(quoted)
                        ],
                        "state": "Running"
                    }
                }
            }
            """
        try info.write(toFile: directory + "/info.json", atomically: true, encoding: .utf8)
    }

    func install() async throws { try await writeExecutable(script, to: directory + "/bin/multipass") }

    func calls() -> [String] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
}

/// GET /healthz → 200 on a loopback port: what launch.sh waits for.
func startHealthz() async throws -> (port: Int, stop: @Sendable () -> Void, directory: String) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-healthz-\(UUID())").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try "".write(toFile: directory + "/healthz", atomically: true, encoding: .utf8)
    for _ in 0..<5 {
        let port = Int.random(in: 20000...60000)
        let server = try ChildProcess("/bin/busybox", ["httpd", "-f", "-p", "127.0.0.1:\(port)", "-h", directory])
            .start()
        let up = await eventually(timeout: .seconds(30)) {
            (try? await testClient.fetch(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz")))?.head.status
                .code == 200
        }
        if up { return (port, { kill(server.pid, SIGKILL) }, directory) }
        kill(server.pid, SIGKILL)
    }
    throw HarnessError("no healthz stand-in could listen")
}

@Suite("provisioning: cloud-init, multipass/launch.sh, the release tarball")
struct ProvisioningTests {
    func launch(_ arguments: [String], fake: FakeMultipass, port: Int) async throws -> ChildProcess.Outcome {
        var process = ChildProcess(sourceRoot + "/multipass/launch.sh", arguments, timeout: .seconds(60))
        process.environment = [
            "PATH": fake.directory + "/bin:/usr/bin:/bin", "SKIFF_PORT": String(port), "WAIT_SECONDS": "20",
            "HOME": fake.directory,
        ]
        return try await process.run()
    }

    /// A stand-in multipass whose VM has `addresses`, and a /healthz stand-in for launch.sh to wait for; both
    /// removed afterwards.
    func withLaunchFixture(
        addresses: [String], _ body: (FakeMultipass, _ port: Int) async throws -> Void
    ) async throws {
        let fake = try FakeMultipass(addresses: addresses)
        try await fake.install()
        let healthz = try await startHealthz()
        defer {
            healthz.stop()
            try? FileManager.default.removeItem(atPath: fake.directory)
            try? FileManager.default.removeItem(atPath: healthz.directory)
        }
        try await body(fake, healthz.port)
    }

    @Test(.enabled(if: RealParts.isCI || FileManager.default.fileExists(atPath: "/usr/bin/cloud-init")))
    func theCloudConfigValidates() async throws {
        let outcome = try await ChildProcess(
            "/usr/bin/cloud-init", ["schema", "--config-file", sourceRoot + "/cloud-init/cloud-config.yaml"]
        ).run()
        #expect(outcome.succeeded && outcome.outputText.contains("Valid cloud-config"), "\(outcome.errorText)")
        let text = try String(contentsOfFile: sourceRoot + "/cloud-init/cloud-config.yaml", encoding: .utf8)
        for package in ["containerd", "runc", "containernetworking-plugins"] {
            #expect(text.contains("\n  - \(package)\n"), "\(package)")
        }
        #expect(text.hasPrefix("#cloud-config\n") && text.contains("path: /etc/skiff/release-url"))
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/bin/busybox") || RealParts.isCI))
    func launchWithATarballOnABridgedNetwork() async throws {
        // multipass's own network first, the bridged LAN address second (only the second listens here).
        try await withLaunchFixture(addresses: ["127.0.0.3", "127.0.0.1"]) { fake, port in
            let tarball = fake.directory + "/skiff-test.tar.gz"
            try "not really a tarball".write(toFile: tarball, atomically: true, encoding: .utf8)
            let outcome = try await launch(["lab", "--tarball", tarball, "--bridged"], fake: fake, port: port)
            #expect(outcome.succeeded, "\(outcome.errorText)")
            let calls = fake.calls()
            let launched = try #require(calls.first)
            #expect(launched.hasPrefix("launch 24.04 --name lab --cpus 2 --memory 4G --disk 20G --cloud-init "))
            #expect(launched.hasSuffix(" --bridged"))
            #expect(calls.contains("transfer \(tarball) lab:/tmp/skiff.tar.gz"))
            #expect(calls.contains { $0.hasPrefix("exec lab -- sudo sh -c mkdir -p /var/lib/skiff-release") })
            #expect(calls.contains("info lab --format json"))
            #expect(calls.last == "exec lab -- sudo cat /var/lib/skiff/secrets/basic-auth-password")
            #expect(
                FileManager.default.contents(atPath: fake.directory + "/transferred")
                    == Data("not really a tarball".utf8))
            // The cloud-config handed to multipass is the project's, unchanged.
            #expect(
                FileManager.default.contents(atPath: fake.directory + "/cloud-init.yaml")
                    == FileManager.default.contents(atPath: sourceRoot + "/cloud-init/cloud-config.yaml"))
            let url = "http://127.0.0.1:\(port)"
            #expect(outcome.outputText.contains("gateway:  \(url)"))
            #expect(outcome.outputText.contains("password: pw-from-the-vm"))
            #expect(outcome.outputText.contains("export OPENFAAS_URL=\(url)"))
            #expect(outcome.outputText.contains("echo 'pw-from-the-vm' | faas-cli login --password-stdin"))
        }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/bin/busybox") || RealParts.isCI))
    func launchWithAReleaseURLWritesItIntoTheCloudConfig() async throws {
        try await withLaunchFixture(addresses: ["127.0.0.1"]) { fake, port in
            let release = "https://releases.example/skiff-0.1.0-linux-amd64.tar.gz"
            let outcome = try await launch(["--release-url", release], fake: fake, port: port)
            #expect(outcome.succeeded, "\(outcome.errorText)")
            #expect(fake.calls().first?.hasPrefix("launch 24.04 --name skiff ") == true)
            #expect(!fake.calls().contains { $0.hasPrefix("transfer") })
            let config = try String(contentsOfFile: fake.directory + "/cloud-init.yaml", encoding: .utf8)
            #expect(
                config.contains(
                    "path: /etc/skiff/release-url\n    permissions: \"0644\"\n    content: |\n      \(release)\n"))
            if FileManager.default.fileExists(atPath: "/usr/bin/cloud-init") {
                let valid = try await ChildProcess(
                    "/usr/bin/cloud-init", ["schema", "--config-file", fake.directory + "/cloud-init.yaml"]
                ).run()
                #expect(valid.succeeded, "\(valid.errorText)")
            }
        }
    }

    @Test func launchRefusesAMissingTarballBeforeCallingMultipass() async throws {
        let fake = try FakeMultipass(addresses: ["127.0.0.1"])
        try await fake.install()
        defer { try? FileManager.default.removeItem(atPath: fake.directory) }
        let outcome = try await launch(["--tarball", "/nonexistent.tar.gz"], fake: fake, port: 9)
        #expect(outcome.exitCode == 1 && outcome.errorText.contains("scripts/release"))
        #expect(fake.calls().isEmpty)
        let unknown = try await launch(["--frobnicate"], fake: fake, port: 9)
        #expect(unknown.exitCode == 2)
    }
}

/// The release tarball scripts/release made (scripts/test exports its path); under CI its absence fails.
let releaseTarball = ProcessInfo.processInfo.environment["SKIFF_TEST_RELEASE_TARBALL"]

@Suite("the release tarball")
struct ReleaseTests {
    @Test(.enabled(if: releaseTarball != nil || RealParts.isCI))
    func unpackedItRunsWithNoToolchain() async throws {
        let tarball = try #require(releaseTarball, "run scripts/release and set SKIFF_TEST_RELEASE_TARBALL")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-release-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try await ChildProcess("/usr/bin/tar", ["-xzf", tarball, "-C", directory]).runChecked()
        let top = try #require(try FileManager.default.contentsOfDirectory(atPath: directory).first)
        let root = directory + "/" + top
        #expect(top.hasPrefix("skiff-") && (top.hasSuffix("-linux-amd64") || top.hasSuffix("-linux-arm64")))
        for path in [
            "bin/skiff", "bin/skiff-watchdog", "install.sh", "systemd/skiff.service", "cloud-init/cloud-config.yaml",
            "multipass/launch.sh", "templates/python3-lambda/template.yml", "README.md", "docs/operations.md",
        ] {
            #expect(FileManager.default.fileExists(atPath: root + "/" + path), "\(path)")
        }
        #expect(FileManager.default.isExecutableFile(atPath: root + "/install.sh"))

        // No Swift library is linked dynamically; the watchdog links nothing at all.
        let libraries = try await ChildProcess("/usr/bin/ldd", [root + "/bin/skiff"]).run().outputText
        #expect(!libraries.lowercased().contains("swift"), "\(libraries)")
        #expect(libraries.contains("libsystemd") && libraries.contains("libc.so"))
        let watchdog = try await ChildProcess("/usr/bin/ldd", [root + "/bin/skiff-watchdog"]).run()
        #expect((watchdog.outputText + watchdog.errorText).contains("not a dynamic executable"))

        // With no toolchain on PATH and nothing from the build's environment.
        let clean = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": directory]
        var version = ChildProcess(root + "/bin/skiff", ["version", "--gateway", "http://127.0.0.1:9"])
        version.environment = clean
        let printed = try await version.run()
        #expect(printed.succeeded && printed.outputText.hasPrefix("skiff version: "))
        var templates = ChildProcess(root + "/bin/skiff", ["new", "--list"])
        templates.environment = clean
        #expect(try await templates.run().outputText.contains("templates in \(root)/templates"))

        let daemon = try DaemonProcess(environment: clean, binary: root + "/bin/skiff", replaceEnvironment: true)
        let port = try await daemon.port()
        #expect(port != nil)
        if let port {
            #expect(
                await eventually(timeout: .seconds(60)) {
                    (try? await testClient.fetch(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz")))?.head
                        .status.code == 200
                })
            #expect(await daemon.terminate())
        }
        await daemon.cleanUp()
    }
}
