import Foundation
import Glibc
import SkiffAPI
import SkiffHTTP
import SkiffPOSIX
import SkiffQueue
import SkiffTestSupport
import Testing

/// The queue on a full disk: a small ext4 filesystem, loop-mounted by the test, holds the streams. Under CI (root,
/// util-linux and e2fsprogs are there) this runs; a machine that cannot mount fails it rather than skipping it.
@Suite("Asynchronous calls on a full disk", .serialized, .enabled(if: getuid() == 0 || RealParts.isCI))
struct AsyncDiskFullTests {
    /// An 8 MiB ext4 filesystem mounted for the test's duration (loop devices are released by the kernel once
    /// unmounted: `mount -o loop` sets autoclear).
    private func withSmallFilesystem(_ body: (String) async throws -> Void) async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-full-\(UUID())").path
        let image = base + ".img"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer {
            try? FileManager.default.removeItem(atPath: base)
            try? FileManager.default.removeItem(atPath: image)
        }
        _ = try await ChildProcess("/usr/bin/truncate", ["-s", "8M", image]).runChecked()
        _ = try await ChildProcess("/usr/sbin/mkfs.ext4", ["-q", "-F", image]).runChecked()
        _ = try await ChildProcess("/usr/bin/mount", ["-o", "loop", image, base]).runChecked()
        // Lazily: the queues' files close when the last reference to them goes, maybe after the test returns.
        do {
            try await body(base)
        } catch {
            _ = try? await ChildProcess("/usr/bin/umount", ["-l", base]).runChecked()
            throw error
        }
        _ = try await ChildProcess("/usr/bin/umount", ["-l", base]).runChecked()
    }

    /// Fills the filesystem with one file until a write fails for want of space.
    private func fill(_ directory: String) throws -> String {
        let path = "\(directory)/filler"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemError(call: "open(\(path))", errno: errno) }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0x5A, count: 64 * 1024)
        var lastErrno: Int32 = 0
        chunk.withUnsafeBytes { buffer in
            // 8 MiB at most, so the loop is bounded however the kernel reports the end of the space.
            for _ in 0..<(16 * 8) {
                if write(fd, buffer.baseAddress, buffer.count) < 0 {
                    lastErrno = errno
                    return
                }
            }
        }
        // Smaller writes take the last partial block too.
        let byte: [UInt8] = [0]
        for _ in 0..<(64 * 1024) where lastErrno == ENOSPC || lastErrno == 0 {
            if byte.withUnsafeBytes({ write(fd, $0.baseAddress, 1) }) < 0 {
                lastErrno = errno
                break
            }
        }
        fsync(fd)
        #expect(lastErrno == ENOSPC, "the filler ended with errno \(lastErrno)")
        return path
    }

    private func enqueue(_ gw: InMemoryGateway, _ id: String) async throws -> (status: Int, text: String) {
        var headers = HTTPHeaders()
        headers.add(name: "X-Call-Id", value: id)
        let (head, body) = try await testClient.fetch(
            HTTPClientRequest(
                method: .post, host: "127.0.0.1", port: gw.port, target: "/async-function/echo", headers: headers,
                body: .string(String(repeating: "b", count: 900))))
        return (head.status.code, String(decoding: body, as: UTF8.self))
    }

    /// Calls answered 202 before and while the disk is full are all kept; calls refused while it is full are
    /// refused with 5xx and a message and are not kept; once space returns, calls are queued again. Read back from
    /// disk by a second queue opened on the same folder, as after a restart.
    @Test func aFullDiskRefusesCallsAndLosesNoneItAccepted() async throws {
        try await withSmallFilesystem { mount in
            let streams = "\(mount)/streams"
            var accepted: [String] = []
            var refused: [String] = []
            try await withInMemoryGateway(queueRetry: RetryPolicy(), startWorker: false, queueDirectory: streams) {
                gw in
                #expect(try await gw.deploy("echo") == 200)
                for index in 0..<20 {
                    let answer = try await enqueue(gw, "before-\(index)")
                    #expect(answer.status == 202, "\(answer.text)")
                    accepted.append("before-\(index)")
                }
                let filler = try fill(mount)
                // The segment's last block may still take a few records; within 200 calls the disk is full.
                for index in 0..<200 {
                    let id = "full-\(index)"
                    let answer = try await enqueue(gw, id)
                    if answer.status == 202 {
                        accepted.append(id)
                        continue
                    }
                    #expect(answer.status == 503, "\(answer.text)")
                    #expect(answer.text.contains("cannot queue the call") && answer.text.contains("space"))
                    refused.append(id)
                }
                #expect(refused.count > 0)
                try FileManager.default.removeItem(atPath: filler)
                for index in 0..<5 {
                    let answer = try await enqueue(gw, "after-\(index)")
                    #expect(answer.status == 202, "\(answer.text)")
                    accepted.append("after-\(index)")
                }
            }
            let reopened = try AsyncQueue.open(directory: streams)
            var kept: [String] = []
            let summary = reopened.requests.log.summary
            if summary.messages > 0 {
                for sequence in summary.firstSequence...summary.lastSequence {
                    guard let message = try reopened.requests.log.message(sequence) else { continue }
                    let request = try JSONDecoder().decode(QueueRequest.self, from: Data(message.payload))
                    kept.append(request.headerValue("X-Call-Id") ?? "?")
                }
            }
            #expect(kept == accepted, "refused: \(refused.count)")
        }
    }
}
