import Foundation
import Glibc
import SkiffHTTP
import SkiffPOSIX
import SkiffTestSupport
import Testing

/// The Python base image archive that scripts/python-base makes (scripts/test exports its path). Under CI its
/// absence fails the Python tests instead of skipping them.
let pythonBase = ProcessInfo.processInfo.environment["SKIFF_TEST_PYTHON_BASE"]
let pythonPartsPresent = daemonPartsPresent && (pythonBase != nil || RealParts.isCI)

/// A user at a shell: a folder of their own, a running `skiff serve`, and the skiff CLI pointed at it.
final class ToolchainSession: Sendable {
    let daemon: DaemonProcess
    let port: Int
    let directory: String

    /// `environment` reaches the daemon (SKIFF_* settings).
    init(environment: [String: String] = [:]) async throws {
        daemon = try DaemonProcess(environment: environment)
        guard let port = try await daemon.port() else {
            await daemon.cleanUp()
            throw HarnessError("the daemon did not report its listener")
        }
        self.port = port
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-user-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // /healthz turns 200 once the runtime has restored its functions; the API is usable from then on.
        let ready = await eventually(timeout: .seconds(60)) {
            (try? await self.call("/healthz", method: .get))?.status == 200
        }
        if !ready {
            await cleanUp()
            throw HarnessError("the daemon did not become ready")
        }
    }

    var gateway: String { "http://127.0.0.1:\(port)" }

    /// Runs `skiff ARGS…` in the session's folder; `OPENFAAS_CONFIG` keeps logins out of the real home.
    func skiff(_ arguments: [String], input: String? = nil, timeout: Duration = .seconds(300)) async throws
        -> ChildProcess.Outcome
    {
        var process = ChildProcess(
            "/bin/sh", ["-c", #"cd "$0" && exec "$@""#, directory, skiffBinary()] + arguments, timeout: timeout)
        var environment = ProcessInfo.processInfo.environment
        environment["OPENFAAS_URL"] = gateway
        environment["OPENFAAS_CONFIG"] = directory + "/.openfaas"
        environment["SKIFF_STATE_DIR"] = "/nonexistent"
        process.environment = environment
        process.standardInput = Array((input ?? "").utf8)
        return try await process.run()
    }

    /// `skiff …` that must succeed; its output otherwise becomes the test's failure.
    @discardableResult
    func run(_ arguments: [String], input: String? = nil) async throws -> String {
        let outcome = try await skiff(arguments, input: input)
        guard outcome.succeeded else {
            throw HarnessError(
                "skiff \(arguments.joined(separator: " ")) failed (\(outcome.exitCode ?? -1)):\n"
                    + outcome.outputText + outcome.errorText)
        }
        return outcome.outputText
    }

    func login() async throws {
        let password = try String(
            contentsOf: daemon.state.appendingPathComponent("secrets/basic-auth-password"), encoding: .utf8)
        try await run(["login", "--password-stdin"], input: password)
    }

    func call(_ path: String, method: HTTPMethod = .post, body: String = "") async throws
        -> (status: Int, headers: HTTPHeaders, body: String)
    {
        let client = HTTPClient(group: testGroup)
        let (head, bytes) = try await client.fetch(
            HTTPClientRequest(method: method, url: gateway + path, body: .string(body)), timeout: .seconds(60))
        return (Int(head.status.code), head.headers, String(decoding: bytes, as: UTF8.self))
    }

    func write(_ text: String, to name: String, mode: Int = 0o644) throws {
        let path = directory + "/" + name
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    func cleanUp() async {
        await daemon.cleanUp()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Runs `body` with a fresh session and always removes it afterwards (functions, images, namespace, bridge).
func withToolchainSession(
    daemonEnvironment: [String: String] = [:], _ body: (ToolchainSession) async throws -> Void
) async throws {
    let session = try await ToolchainSession(environment: daemonEnvironment)
    do {
        try await body(session)
    } catch {
        await session.cleanUp()
        throw error
    }
    await session.cleanUp()
}

@Suite("skiff new, build, up and the client verbs against a real daemon")
struct ToolchainTests {
    @Test(.enabled(if: daemonPartsPresent))
    func shellAndBinaryFunctionsFromNewToRemove() async throws {
        try await withToolchainSession { session in try await shellAndBinary(session) }
    }

    func shellAndBinary(_ session: ToolchainSession) async throws {
        let namespace = session.daemon.namespace
        // Without a login every /system verb says how to log in, and exits 1.
        let refused = try await session.skiff(["list"])
        #expect(refused.exitCode == 1 && refused.errorText.contains("skiff login"))
        try await session.login()

        // shell: a fork-mode function on a busybox base made from the host's busybox-static.
        let created = try await session.run(["new", "--lang", "shell", "hello"])
        #expect(created.contains("hello.yml"))
        #expect(FileManager.default.fileExists(atPath: session.directory + "/hello/handler.sh"))
        let up = try await session.run(["up", "-f", "hello.yml", "-n", namespace])
        #expect(up.contains("layer: skiff-watchdog") && up.contains("deployed: hello"))
        let answer = try await session.call("/function/hello.\(namespace)", body: "abc")
        #expect(answer.status == 200)
        #expect(answer.body == "Hello from a shell function. You sent 3 bytes with POST.\n")
        // The same through `skiff invoke`, with stdin as the body.
        let invoked = try await session.run(["invoke", "hello", "-n", namespace], input: "12345")
        #expect(invoked == "Hello from a shell function. You sent 5 bytes with POST.\n")

        // binary: a static executable and nothing else.
        try await session.run(["new", "--lang", "binary", "upper"])
        try session.write(
            "#include <stdio.h>\n#include <ctype.h>\nint main(void){int c;while((c=getchar())!=EOF)putchar(toupper(c));}\n",
            to: "upper.c")
        let compiled = try await ChildProcess(
            "/usr/bin/gcc",
            ["-static", "-O2", "-o", session.directory + "/upper/handler", session.directory + "/upper.c"]
        ).run()
        #expect(compiled.succeeded, "\(compiled.errorText)")
        try await session.run(["up", "-f", "upper.yml", "-n", namespace])
        #expect(try await session.run(["invoke", "upper", "-n", namespace], input: "shout") == "SHOUT")

        // list --json is the gateway's array; the table has both functions.
        let json = try await session.run(["list", "-n", namespace, "--json"])
        let listed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]
        #expect(Set(listed?.compactMap { $0["name"] as? String } ?? []) == ["hello", "upper"])
        let table = try await session.run(["list", "-n", namespace])
        #expect(table.hasPrefix("Function") && table.contains("hello") && table.contains("upper"))
        let described = try await session.run(["describe", "hello", "-n", namespace])
        #expect(described.contains("Status: Ready") && described.contains("Image: hello:latest"))

        // scale, secrets, logs, namespaces, version.
        try await session.run(["scale", "hello", "--replicas", "2", "-n", namespace])
        #expect(
            await eventually {
                (try? await session.run(["describe", "hello", "-n", namespace]))?.contains("Available Replicas: 2")
                    == true
            })
        try await session.run(["secret", "create", "api-key", "-n", namespace], input: "s3cret")
        #expect(try await session.run(["secret", "list", "-n", namespace]).contains("api-key"))
        let duplicate = try await session.skiff(["secret", "create", "api-key", "-n", namespace], input: "x")
        #expect(duplicate.exitCode == 1 && duplicate.errorText.contains("409"))
        try await session.run(["secret", "remove", "api-key", "-n", namespace])
        #expect(
            await eventually {
                (try? await session.run(["logs", "hello", "-n", namespace]))?.contains("skiff-watchdog") == true
            })
        #expect(try await session.run(["namespace", "list"]).contains(namespace))
        let version = try await session.run(["version"])
        #expect(version.contains("skiff version: ") && version.contains("provider: skiff"))

        // Mistakes: exit 2 for the command line, 1 for what the gateway refused.
        #expect(try await session.skiff(["list", "--bogus"]).exitCode == 2)
        #expect(try await session.skiff(["scale", "hello"]).exitCode == 2)
        let missing = try await session.skiff(["describe", "nope", "-n", namespace])
        #expect(missing.exitCode == 1 && missing.errorText.contains("not found"))
        let exists = try await session.skiff(["new", "--lang", "shell", "hello"])
        #expect(exists.exitCode == 1 && exists.errorText.contains("already exists"))
        let badName = try await session.skiff(["new", "--lang", "shell", "Hello_World"])
        #expect(badName.exitCode == 2 && badName.errorText.contains("DNS-1123"))

        try await session.run(["remove", "-f", "hello.yml", "-n", namespace])
        try await session.run(["remove", "upper", "-n", namespace])
        #expect(try await session.call("/function/hello.\(namespace)").status == 404)
    }

    @Test(.enabled(if: daemonPartsPresent))
    func versionExitsZeroWithNoGateway() async throws {
        var process = ChildProcess(skiffBinary(), ["version", "--gateway", "http://127.0.0.1:9"])
        process.environment = ["PATH": "/usr/bin:/bin"]
        let outcome = try await process.run()
        #expect(outcome.succeeded && outcome.outputText.contains("does not answer"))
    }

    @Test(.enabled(if: pythonPartsPresent))
    func pythonTemplatesWithALocalDependencyAndTheSameDigestTwice() async throws {
        let base = try #require(
            pythonBase, "run scripts/python-base and set SKIFF_TEST_PYTHON_BASE (scripts/test does)")
        try await withToolchainSession { session in try await pythonTemplates(session, base: base) }
    }

    func pythonTemplates(_ session: ToolchainSession, base: String) async throws {
        let namespace = session.daemon.namespace
        try await session.login()

        // The lecture's handler, unchanged from `skiff new`.
        try await session.run(["new", "--lang", "python3-lambda", "hello"])
        try await session.run(["up", "-f", "hello.yml", "-n", namespace, "--base", "oci-archive:" + base])
        let lambda = try await session.call("/function/hello.\(namespace)?name=Skiff", method: .get)
        #expect(lambda.status == 200 && lambda.headers["Content-Type"] == "application/json")
        let message = try JSONSerialization.jsonObject(with: Data(lambda.body.utf8)) as? [String: String]
        #expect(message == ["message": "Hello, Skiff!", "method": "GET"])

        // python3-http with a dependency from a wheel in the handler folder: no index, no Internet.
        try await session.run(["new", "--lang", "python3-http", "greet"])
        try makeWheel(in: session.directory + "/greet/wheels")
        try session.write("--no-index\n--find-links wheels\nskiffgreet==1.0\n", to: "greet/requirements.txt")
        try session.write(
            "from skiffgreet import greet\n\ndef handle(event, context):\n"
                + "    return {\"statusCode\": 201, \"body\": greet(event.body.decode())}\n",
            to: "greet/handler.py")
        let built = try await session.run(["up", "-f", "greet.yml", "-n", namespace, "--base", "oci-archive:" + base])
        #expect(built.contains("layer: dependencies from requirements.txt"))
        let greeting = try await session.call("/function/greet.\(namespace)", body: "Ada")
        #expect(greeting.status == 201 && greeting.body == "Greetings, Ada!")

        // Building again gives the same digest, and containerd holds that digest.
        func digest(_ output: String) -> String? {
            output.split(separator: "\n").first { $0.contains("] built ") }?.split(separator: " ").last.map(String.init)
        }
        let first = digest(built)
        let again = try await session.run([
            "build", "-f", "greet.yml", "-n", namespace, "--base", "oci-archive:" + base,
        ])
        #expect(first != nil && digest(again) == first)
        let images = try await ChildProcess("/usr/bin/ctr", ["-n", namespace, "images", "ls"]).runChecked().outputText
        #expect(images.contains("docker.io/library/greet:latest") && images.contains(first ?? "?"))
    }

    /// A pure-Python wheel, made with the zip format's stored entries so that no tool is needed.
    func makeWheel(in directory: String) throws {
        let name = "skiffgreet"
        var files: [(String, [UInt8])] = [
            ("\(name)/__init__.py", Array("def greet(who):\n    return \"Greetings, \" + who + \"!\"\n".utf8)),
            ("\(name)-1.0.dist-info/METADATA", Array("Metadata-Version: 2.1\nName: \(name)\nVersion: 1.0\n".utf8)),
            (
                "\(name)-1.0.dist-info/WHEEL",
                Array("Wheel-Version: 1.0\nGenerator: skiff-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n".utf8)
            ),
        ]
        let record = files.map { "\($0.0),," }.joined(separator: "\n") + "\n\(name)-1.0.dist-info/RECORD,,\n"
        files.append(("\(name)-1.0.dist-info/RECORD", Array(record.utf8)))
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(ZipWriter.stored(files)).write(to: URL(fileURLWithPath: "\(directory)/\(name)-1.0-py3-none-any.whl"))
    }
}

/// The smallest zip writer: stored (uncompressed) entries with CRC-32, enough for a wheel.
enum ZipWriter {
    static func stored(_ files: [(String, [UInt8])]) -> [UInt8] {
        var output: [UInt8] = []
        var central: [UInt8] = []
        func le16(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF)] }
        func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xFF) } }
        for (name, data) in files {
            let crc = crc32(data)
            let offset = UInt32(output.count)
            let common =
                le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21) + le32(crc) + le32(UInt32(data.count))
                + le32(UInt32(data.count)) + le16(name.utf8.count) + le16(0)
            output += le32(0x0403_4B50) + common + Array(name.utf8) + data
            central +=
                le32(0x0201_4B50) + le16(20) + common + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset)
                + Array(name.utf8)
        }
        let start = UInt32(output.count)
        output += central
        output +=
            le32(0x0605_4B50) + le16(0) + le16(0) + le16(files.count) + le16(files.count)
            + le32(UInt32(central.count)) + le32(start) + le16(0)
        return output
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
