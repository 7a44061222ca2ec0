import Foundation
import Testing

@testable import SkiffHTTP

/// The engine against a client it did not write: curl from Debian.
@Suite("curl interop")
struct CurlInteropTests {
    @Test func getKeepAliveHeadAndHTTP10() async throws {
        guard let curl = requiredTool("curl") else { return }
        try await withServer(makeTestRouter()) { _, port in
            let base = "http://127.0.0.1:\(port)"
            let get = try await run(curl, ["-sS", "\(base)/hello"])
            #expect(get.status == 0 && get.output == "hello")
            // Two URLs in one run: curl reuses the connection when the server keeps it alive.
            let twice = try await run(curl, ["-sS", "-w", "%{num_connects}\n", "\(base)/hello", "\(base)/hello"])
            #expect(twice.output == "hello1\nhello0\n")
            let head = try await run(curl, ["-sS", "-I", "\(base)/hello"])
            #expect(head.output.hasPrefix("HTTP/1.1 200 OK\r\n") && head.output.contains("Content-Length: 5"))
            let old = try await run(curl, ["-sS", "--http1.0", "\(base)/path/x?y=1"])
            #expect(old.output == "/path/x?y=1")
            let missing = try await run(curl, ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "\(base)/missing"])
            #expect(missing.output == "404")
        }
    }

    @Test func uploadsByLengthChunkedAndWithExpectContinue() async throws {
        guard let curl = requiredTool("curl") else { return }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-curl-\(UUID()).bin")
        let echoed = file.appendingPathExtension("echo")
        // Built from a repeated block: a per-byte loop over megabytes is slow in debug builds.
        let block = (0..<251).map { UInt8($0) }
        let bytes = Array(Array(repeating: block, count: 12_600).joined()) + [1, 2, 3]
        try Data(bytes).write(to: file)
        defer {
            try? FileManager.default.removeItem(at: file)
            try? FileManager.default.removeItem(at: echoed)
        }
        try await withServer(makeTestRouter()) { _, port in
            let url = "http://127.0.0.1:\(port)/count"
            let plain = try await run(curl, ["-sS", "--data-binary", "@\(file.path)", url])
            #expect(plain.output.hasPrefix("\(bytes.count) "))
            let chunked = try await run(
                curl, ["-sS", "-H", "Transfer-Encoding: chunked", "--data-binary", "@\(file.path)", url])
            #expect(chunked.output.hasPrefix("\(bytes.count) "))
            let expect = try await run(
                curl,
                ["-sS", "-H", "Expect: 100-continue", "--data-binary", "@\(file.path)", "-w", " %{http_code}", url])
            #expect(expect.output.hasPrefix("\(bytes.count) ") && expect.output.hasSuffix(" 200"))
            let echo = try await run(
                curl, ["-sS", "--data-binary", "@\(file.path)", "-o", echoed.path, "http://127.0.0.1:\(port)/echo"])
            #expect(echo.status == 0)
            #expect(try Data(contentsOf: echoed) == Data(bytes))
        }
    }

    @Test func streamedLinesAreDeliveredUnbuffered() async throws {
        guard let curl = requiredTool("curl") else { return }
        try await withServer(makeTestRouter()) { _, port in
            let lines = try await run(curl, ["-sS", "-N", "http://127.0.0.1:\(port)/stream"])
            #expect(lines.output == "{\"line\":0}\n{\"line\":1}\n{\"line\":2}\n")
        }
    }
}
