import Foundation
import Glibc
import SkiffHTTP
import SkiffInvoke
import SkiffLog
import SkiffPOSIX
import SkiffRuntime
import SkiffTestSupport
import Testing

@testable import SkiffGateway

/// What unauthenticated callers must not be able to do to the gateway's memory and processes.
@Suite("Gateway hardening")
struct GatewayHardeningTests {
    @Test func callsToUnknownFunctionsDoNotGrowTheTimeoutCache() async throws {
        try await withGateway { gw in
            for number in 0..<500 {
                let answer = try await gw.call(.get, "/function/nosuch-\(number)", auth: false)
                #expect(answer.status == 404)
            }
            #expect(gw.gateway.timeouts.count == 0)
        }
    }

    /// One line per event, and no field without a value (a cold start once logged `call_id=` empty).
    @Test func logLinesCarryNoEmptyFields() {
        let memory = MemoryLogHandler()
        Logger(label: "t", metadata: ["component": "gateway", "empty": ""], handler: memory)
            .info("waited", ["call_id": "", "function": "f"])
        #expect(memory.all.map(\.metadata) == [["component": "gateway", "function": "f"]])
    }

    @Test func anAbandonedLogFollowStopsItsReaderEvenWhenTheFunctionIsSilent() async throws {
        // A stand-in journalctl that records its pid and waits, as the real one does with -f on a silent function.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-journal-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await writeExecutable("#!/bin/sh\necho $$ > \(folder)/pid\nexec sleep 600\n", to: "\(folder)/journalctl")
        let journald: (inout RuntimeConfiguration) -> Void = {
            $0.logSink = .journald
            $0.journalctlPath = "\(folder)/journalctl"
        }
        try await withGateway(adjust: journald) { gw in
            try await gw.runtime.importImage("docker.io/local/quiet:1")
            let body = gw.deployBody("quiet", image: "local/quiet:1")
            #expect(try await gw.call(.post, "/system/functions", json: body).status == 200)
            let token = Data("\(gw.credentials.user):\(gw.credentials.password)".utf8).base64EncodedString()
            let fd = try RawHTTP.connect(port: gw.port)
            RawHTTP.send(
                fd,
                Array(
                    "GET /system/logs?name=quiet&follow=true HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \(token)\r\n\r\n"
                        .utf8))
            let started = await eventually { FileManager.default.fileExists(atPath: "\(folder)/pid") }
            try #require(started, "the follower never started journalctl")
            let text = try String(contentsOfFile: "\(folder)/pid", encoding: .utf8)
            let pid = try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(kill(pid, 0) == 0)
            close(fd)  // the client goes away; the function never logs a line
            let stopped = await eventually(timeout: .seconds(60)) { kill(pid, 0) != 0 }
            #expect(stopped, "journalctl \(pid) still runs after its client left")
        }
    }
}
