import Foundation
import Glibc
import SkiffHTTP
import SkiffPOSIX
import Testing

/// The built `skiff` binary: beside the test runner in SwiftPM's build folder (or SKIFF_BINARY).
func skiffBinary() -> URL {
    if let path = ProcessInfo.processInfo.environment["SKIFF_BINARY"] { return URL(fileURLWithPath: path) }
    let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    return runner.deletingLastPathComponent().appendingPathComponent("skiff")
}

@Suite("skiff serve as a process")
struct DaemonTests {
    @Test func servesHealthzAndStopsOnSIGTERM() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-state-\(UUID())")
        defer { try? FileManager.default.removeItem(at: state) }
        let process = Process()
        process.executableURL = skiffBinary()
        process.arguments = ["serve", "--listen", "127.0.0.1:0", "--state-dir", state.path]
        let stderr = Pipe()
        process.standardError = stderr
        // Not the runner's stdout: a daemon left holding it would keep `swift test` waiting.
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // The daemon reports its bound address on stderr once the listener is up.
        let line = try await PosixThread.run(name: "test-blocking") { () -> String in
            var text = ""
            let handle = stderr.fileHandleForReading
            while !text.contains("\n") {
                let data = handle.availableData
                if data.isEmpty { break }
                text += String(decoding: data, as: UTF8.self)
            }
            return text
        }
        let port = line.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(line.hasPrefix("skiff serve: listening on 127.0.0.1:"), "\(line)")
        guard let port else {
            process.terminate()
            return
        }
        #expect(FileManager.default.fileExists(atPath: state.path))
        let group = try EventLoopGroup(loopCount: 1)
        let client = HTTPClient(group: group)
        let (head, body) = try await client.fetch(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz"))
        #expect(head.status.code == 200)
        #expect(body.isEmpty)
        await client.closeIdleConnections()
        kill(process.processIdentifier, SIGTERM)
        let exited = try await PosixThread.run(name: "test-blocking") { () -> Int32 in
            process.waitUntilExit()
            return process.terminationStatus
        }
        #expect(exited == 0)
    }

    @Test func badFlagsExitWithUsage() async throws {
        let process = Process()
        process.executableURL = skiffBinary()
        process.arguments = ["serve", "--listen", "nowhere"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        let status = try await PosixThread.run(name: "test-blocking") { () -> Int32 in
            process.waitUntilExit()
            return process.terminationStatus
        }
        #expect(status == 2)
    }
}
