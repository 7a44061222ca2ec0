import Foundation
import Glibc
import SkiffHTTP
import SkiffPOSIX
import SkiffTestSupport
import Testing

/// Debian's docker-registry, which scripts/test unpacks and names in SKIFF_TEST_REGISTRY. Under CI its absence
/// fails the pull tests instead of skipping them.
let registryBinary = ProcessInfo.processInfo.environment["SKIFF_TEST_REGISTRY"]
let registryPartsPresent = daemonPartsPresent && (registryBinary != nil || RealParts.isCI)

/// A registry on 127.0.0.1 with its storage in a temporary folder, for as long as the body runs.
func withRegistry(_ body: (_ host: String) async throws -> Void) async throws {
    guard let binary = registryBinary, FileManager.default.isExecutableFile(atPath: binary) else {
        throw HarnessError("no docker-registry at SKIFF_TEST_REGISTRY; run scripts/test, which unpacks it")
    }
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-registry-\(UUID())").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let listener = try Socket.listen(on: try #require(SocketAddress(parsing: "127.0.0.1:0")), reusePort: false)
    let port = try Socket.localAddress(listener).port
    Socket.close(listener)
    let host = "127.0.0.1:\(port)"
    try """
    version: 0.1
    storage:
      filesystem:
        rootdirectory: \(folder)/data
    http:
      addr: \(host)
    """.write(toFile: folder + "/config.yml", atomically: true, encoding: .utf8)
    let registry = try ChildProcess(binary, ["serve", folder + "/config.yml"]).start()
    defer { kill(registry.pid, SIGTERM) }
    let client = HTTPClient(group: testGroup)
    let up = await eventually(timeout: .seconds(30)) {
        let answer = try? await client.fetch(HTTPClientRequest(method: .get, url: "http://\(host)/v2/"))
        return answer?.0.status.code == 200
    }
    guard up else { throw HarnessError("docker-registry did not answer on \(host)") }
    try await body(host)
}

@Suite("progress of pulls and imports in skiff build")
struct PullProgressTests {
    static func ctr(_ namespace: String, _ arguments: [String]) async throws -> String {
        try await ChildProcess("/usr/bin/ctr", ["-n", namespace] + arguments, timeout: .seconds(120)).runChecked()
            .outputText
    }

    @Test(.enabled(if: registryPartsPresent))
    func aBaseImagePulledFromARegistryShowsABarOnATerminalAndOneLineElsewhere() async throws {
        let namespace = "skiff-pull-test-\(getpid())"
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-pull-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer {
            try? FileManager.default.removeItem(atPath: folder)
        }
        try await withRegistry { host in
            // A base no other image shares a byte with, pushed and then removed here, so the build must pull it.
            let reference = "\(host)/skiff-test/pulled:1"
            let archive = try TestImages.file(reference: reference, randomBytes: 16 << 20)
            defer { try? FileManager.default.removeItem(atPath: archive) }
            do {
                _ = try await Self.ctr(namespace, ["images", "import", archive])
                _ = try await Self.ctr(namespace, ["images", "push", "--plain-http", reference])
                _ = try await Self.ctr(namespace, ["images", "rm", "--sync", reference])
                let skiff = skiffBinary()
                _ = try await ChildProcess(
                    "/bin/sh", ["-c", #"cd "$0" && "$1" new --lang shell fn"#, folder, skiff]
                ).runChecked()
                let build = "\(skiff) build -f fn.yml -n \(namespace) --base \(reference)"

                // On a terminal (script(1) gives the build a pseudo-terminal, 200 columns wide).
                let onTerminal = try await ChildProcess(
                    "/usr/bin/script", ["-qec", "cd \(folder) && stty cols 200 && exec \(build)", "/dev/null"],
                    timeout: .seconds(300)
                ).runChecked().outputText
                let frames = onTerminal.split(separator: "\r").map(String.init)
                let pulling = frames.filter { $0.hasPrefix("[fn] pulling \(reference)") }
                #expect(!pulling.isEmpty, "\(onTerminal)")
                #expect(pulling.allSatisfy { $0.contains("\u{1B}[K") })
                // The layer is 16 MiB of noise on a busybox layer: about 19 MB pulled in all.
                #expect(
                    pulling.contains { $0.contains("[########################] 100%  19 MB / 19 MB") },
                    "\(pulling)")
                #expect(frames.contains { $0.hasPrefix("[fn] importing  [") && $0.contains("100%") })
                #expect(onTerminal.contains("[fn] built docker.io/library/fn:latest"))

                // Anywhere else: one plain line per transfer, no carriage return.
                _ = try await Self.ctr(namespace, ["images", "rm", "--sync", reference, "docker.io/library/fn:latest"])
                let plain = try await ChildProcess(
                    "/bin/sh", ["-c", #"cd "$0" && exec $1"#, folder, build], timeout: .seconds(300)
                ).runChecked().outputText
                #expect(!plain.contains("\r"))
                let lines = plain.split(separator: "\n").map(String.init)
                #expect(lines.filter { $0.hasPrefix("[fn] pulling \(reference)") }.count == 1, "\(plain)")
                #expect(lines.contains { $0.hasPrefix("[fn] importing (") && $0.hasSuffix(" MB)") })
            } catch {
                await Self.removeNamespace(namespace)
                throw error
            }
            await Self.removeNamespace(namespace)
        }
    }

    static func removeNamespace(_ namespace: String) async {
        let images = (try? await ctr(namespace, ["images", "ls", "-q"])) ?? ""
        for image in images.split(separator: "\n") {
            _ = try? await ctr(namespace, ["images", "rm", "--sync", String(image)])
        }
        _ = try? await ChildProcess("/usr/bin/ctr", ["namespaces", "rm", namespace]).run()
    }
}
