import Foundation
import Glibc
import SkiffPOSIX
import SkiffTestSupport
import Testing

@testable import skiff

/// The checkout this test was built from.
let sourceRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

func mode(_ path: String) -> Int? {
    (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int
}

func runSkiff(_ arguments: [String]) async throws -> ChildProcess.Outcome {
    try await ChildProcess(skiffBinary(), arguments, timeout: .seconds(120)).run()
}

@Suite("skiff install and uninstall")
struct InstallTests {
    @Test func theEmbeddedUnitIsSystemdSkiffService() throws {
        let file = try String(contentsOfFile: sourceRoot + "/systemd/skiff.service", encoding: .utf8)
        #expect(SystemdUnit.text + "\n" == file)
    }

    @Test func theUnitVerifiesCleanly() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-unit-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The same unit with ExecStart at a binary that exists here: everything else is verified as shipped.
        try (SystemdUnit.text(binary: skiffBinary()) + "\n").write(
            toFile: directory + "/skiff.service", atomically: true, encoding: .utf8)
        let outcome = try await ChildProcess("/usr/bin/systemd-analyze", ["verify", directory + "/skiff.service"])
            .run()
        #expect(outcome.succeeded, "\(outcome.errorText)")
        #expect(outcome.errorText.isEmpty && outcome.outputText.isEmpty, "\(outcome.errorText)")
        for line in [
            "Type=notify", "WatchdogSec=30s", "Restart=on-failure", "KillMode=mixed", "LimitNOFILE=1048576",
            "After=network-online.target containerd.service", "Wants=network-online.target containerd.service",
        ] {
            #expect(SystemdUnit.text.contains("\n\(line)\n"), "\(line)")
        }
    }

    @Test func installIntoATreeFileByFileThenUpgradeAndUninstall() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-root-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let first = try await runSkiff(["install", "--root", root])
        #expect(first.succeeded, "\(first.errorText)")
        #expect(first.outputText.contains("nothing outside it was touched"))
        let expected: [(String, Int)] = [
            ("/usr/local/bin/skiff", 0o755), ("/usr/local/bin/skiff-watchdog", 0o755),
            ("/usr/local/share/skiff/templates/python3-lambda/template.yml", 0o644),
            ("/usr/local/share/skiff/templates/shell/function/handler.sh", 0o755),
            ("/usr/local/share/doc/skiff/README.md", 0o644), ("/usr/local/share/doc/skiff/docs/operations.md", 0o644),
            ("/etc/skiff/skiff.conf", 0o644), ("/etc/systemd/system/skiff.service", 0o644),
            ("/etc/sysctl.d/60-skiff.conf", 0o644), ("/etc/cni/net.d/10-skiff.conflist", 0o644),
            ("/var/lib/skiff", 0o755), ("/var/lib/skiff/secrets", 0o700),
            ("/var/lib/skiff/secrets/basic-auth-password", 0o600),
        ]
        for (path, permissions) in expected {
            #expect(mode(root + path) == permissions, "\(path): \(String(mode(root + path) ?? -1, radix: 8))")
        }
        #expect(
            FileManager.default.contents(atPath: root + "/usr/local/bin/skiff")
                == FileManager.default.contents(atPath: skiffBinary()))
        let unit = try String(contentsOfFile: root + "/etc/systemd/system/skiff.service", encoding: .utf8)
        #expect(unit == SystemdUnit.text + "\n")
        #expect(
            try String(contentsOfFile: root + "/etc/sysctl.d/60-skiff.conf", encoding: .utf8)
                .contains("net.ipv4.ip_forward = 1"))
        let conflist =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: root + "/etc/cni/net.d/10-skiff.conflist")))
            as? [String: Any]
        #expect(conflist?["name"] as? String == "skiff-openfaas0")
        let password = try String(contentsOfFile: root + "/var/lib/skiff/secrets/basic-auth-password", encoding: .utf8)
        #expect(password.trimmingCharacters(in: .whitespacesAndNewlines).count >= 32)

        // Again: an upgrade in place. Nothing changes, the password and the operator's settings are kept.
        try "listen = 0.0.0.0:9090\n".write(toFile: root + "/etc/skiff/skiff.conf", atomically: true, encoding: .utf8)
        let second = try await runSkiff(["install", "--root", root])
        #expect(second.succeeded)
        #expect(!second.outputText.contains("written"), "\(second.outputText)")
        #expect(second.outputText.contains("127.0.0.1:9090"))
        #expect(
            try String(contentsOfFile: root + "/var/lib/skiff/secrets/basic-auth-password", encoding: .utf8)
                == password)
        #expect(
            try String(contentsOfFile: root + "/etc/skiff/skiff.conf", encoding: .utf8) == "listen = 0.0.0.0:9090\n")

        // Uninstall keeps the data; --purge removes it.
        let removed = try await runSkiff(["uninstall", "--root", root])
        #expect(removed.succeeded)
        for path in ["/usr/local/bin/skiff", "/etc/systemd/system/skiff.service", "/usr/local/share/skiff"] {
            #expect(!FileManager.default.fileExists(atPath: root + path), "\(path)")
        }
        #expect(FileManager.default.fileExists(atPath: root + "/var/lib/skiff/secrets/basic-auth-password"))
        #expect(FileManager.default.fileExists(atPath: root + "/etc/skiff/skiff.conf"))
        #expect(try await runSkiff(["uninstall", "--root", root, "--purge"]).succeeded)
        #expect(!FileManager.default.fileExists(atPath: root + "/var/lib/skiff"))
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/skiff"))
    }

    /// The real install on this machine, up to where systemd would take over (CI machines run no systemd as
    /// PID 1). Only under CI: it writes /usr/local/bin, /etc and /var/lib/skiff, and puts back what it found.
    @Test(.enabled(if: RealParts.isCI || ProcessInfo.processInfo.environment["SKIFF_TEST_REAL_INSTALL"] == "1"))
    func theRealInstallOnThisMachine() async throws {
        let manager = FileManager.default
        let stateExisted = manager.fileExists(atPath: "/var/lib/skiff")
        let configExisted = manager.fileExists(atPath: "/etc/skiff")
        let passwordBefore = manager.contents(atPath: "/var/lib/skiff/secrets/basic-auth-password")
        let installed = try await runSkiff(["install"])
        #expect(installed.succeeded, "\(installed.errorText)")
        if !manager.fileExists(atPath: "/run/systemd/system") {
            #expect(installed.outputText.contains("systemd is not running on this machine"))
        }
        #expect(mode("/usr/local/bin/skiff") == 0o755 && mode("/usr/local/bin/skiff-watchdog") == 0o755)
        #expect(mode("/etc/systemd/system/skiff.service") == 0o644)
        #expect(mode("/var/lib/skiff/secrets/basic-auth-password") == 0o600)
        #expect(try String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8).hasPrefix("1"))
        if let passwordBefore {
            #expect(manager.contents(atPath: "/var/lib/skiff/secrets/basic-auth-password") == passwordBefore)
        }
        // The installed binary runs and finds its installed templates.
        let templates = try await ChildProcess("/usr/local/bin/skiff", ["new", "--list"]).run()
        #expect(templates.outputText.contains("/usr/local/share/skiff/templates"), "\(templates.outputText)")
        let uninstalled = try await runSkiff(["uninstall"] + (stateExisted || configExisted ? [] : ["--purge"]))
        #expect(uninstalled.succeeded)
        #expect(!manager.fileExists(atPath: "/usr/local/bin/skiff"))
        #expect(!manager.fileExists(atPath: "/etc/systemd/system/skiff.service"))
        #expect(manager.fileExists(atPath: "/var/lib/skiff") == stateExisted)
    }
}
