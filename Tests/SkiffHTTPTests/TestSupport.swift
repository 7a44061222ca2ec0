import Foundation
import Glibc
import SkiffHTTP
import SkiffPOSIX
import Synchronization
import Testing

/// One loop group for every test in the process, as the daemon has one.
let testGroup: EventLoopGroup = try! EventLoopGroup(loopCount: 2)

/// A loopback configuration with a free port, adjusted by `adjust`.
func loopback(_ adjust: (inout HTTPServerConfiguration) -> Void = { _ in }) -> HTTPServerConfiguration {
    var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
    adjust(&configuration)
    return configuration
}

/// Starts a server (on 127.0.0.1 with a free port unless told otherwise); shuts it down after `body`.
func withServer<T>(
    _ responder: any HTTPResponder,
    _ configuration: HTTPServerConfiguration = loopback(),
    _ body: (HTTPServer, Int) async throws -> T
) async throws -> T {
    let server = HTTPServer(configuration: configuration, group: testGroup, responder: responder)
    let addresses = try await server.start()
    do {
        let result = try await body(server, addresses[0].port)
        await server.shutdown(gracePeriod: .seconds(2))
        return result
    } catch {
        await server.shutdown(gracePeriod: .seconds(2))
        throw error
    }
}

/// A blocking TCP connection for wire-level tests, with a receive timeout so a test never hangs: generous, since it
/// only ends a test that has already failed, and a loaded machine may take seconds to answer.
final class RawConnection: @unchecked Sendable {
    let fd: Int32

    init(port: Int, timeoutSeconds: Int = 60) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else { throw SystemError(call: "connect", errno: errno) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// One end of a socketpair whose other end `server` serves as an accepted connection: the engine's parsing,
    /// keep-alive and timeouts, with no port to find and no network in between.
    init(serving server: HTTPServer, timeoutSeconds: Int = 60) throws {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw SystemError(call: "socketpair", errno: errno)
        }
        _ = fcntl(pair[1], F_SETFL, fcntl(pair[1], F_GETFL) | O_NONBLOCK)
        fd = pair[0]
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard server.serveConnected(pair[1]) else {
            close(fd)
            throw SystemError(call: "serveConnected", errno: ECONNREFUSED)
        }
    }

    deinit { close(fd) }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    /// Reads until the bytes received end with `suffix`, the peer closes, or the timeout passes. The blocking
    /// reads run on a thread of their own: blocking Swift's two cooperative threads would stall the server.
    /// (Takes a string, not a predicate closure: Swift 6.3.1 handed a later call the closure of an earlier call
    /// written inside `#expect(await …)`.)
    func read(untilSuffix suffix: String) async -> String {
        let wanted = Array(suffix.utf8)
        // A test machine that cannot start a thread is broken; no caller could do better than stop.
        return try! await PosixThread.run(name: "test-blocking") { [fd] in
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while !received.ends(with: wanted) {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 { break }
                received += buffer[0..<n]
            }
            return String(decoding: received, as: UTF8.self)
        }
    }

    /// Reads to end of stream; `closed` is true when the peer closed (as opposed to the read timing out).
    func readToClose() async -> (text: String, closed: Bool) {
        try! await PosixThread.run(name: "test-blocking") { [fd] in
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n == 0 { return (String(decoding: received, as: UTF8.self), true) }
                if n < 0 { return (String(decoding: received, as: UTF8.self), false) }
                received += buffer[0..<n]
            }
        }
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && self[(count - suffix.count)...].elementsEqual(suffix)
    }
}

extension String {
    func occurrences(of needle: String) -> Int { components(separatedBy: needle).count - 1 }
}

/// Runs a command-line tool, returning its exit status and standard output. The waiting happens on a thread of its
/// own, never on the cooperative pool.
func run(_ tool: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = try await PosixThread.run(name: "test-blocking") { output.fileHandleForReading.readDataToEndOfFile() }
    let status = try await PosixThread.run(name: "test-blocking") { () -> Int32 in
        process.waitUntilExit()
        return process.terminationStatus
    }
    return (status, String(decoding: data, as: UTF8.self))
}

/// The path of a required tool. Under CI=true a missing tool fails the test; elsewhere it is reported.
func requiredTool(_ name: String) -> String? {
    for directory in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let path = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    Issue.record("\(name) is not installed: run scripts/test (it installs the test dependencies)")
    return nil
}

/// Resident memory of this process in bytes.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
}

/// A gate a handler waits at until the test opens it; the test can also wait until a handler has arrived.
/// Makes ordering tests independent of timing and machine load.
final class TestGate: Sendable {
    private struct State {
        var isOpen = false
        var arrived = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    /// Called by the handler: counts the arrival, then waits until the gate is open.
    func pass() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                state.arrived += 1
                if state.isOpen { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.isOpen = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until `count` handlers have arrived (bounded at a minute, which only ends a failed test).
    func waitForArrivals(_ count: Int) async throws {
        await waitUntil { self.state.withLock({ $0.arrived }) >= count }
    }
}

/// A generated upload of `total` bytes in 64 KiB chunks of `byte`, produced only as fast as it is sent.
/// `sent` counts the bytes handed out so far.
final class GeneratedUpload: Sendable {
    let total: Int
    private let produced = Mutex(0)

    init(total: Int) { self.total = total }

    var sent: Int { produced.withLock { $0 } }

    func body(byte: UInt8 = 0x5A) -> HTTPBody {
        let chunk = [UInt8](repeating: byte, count: 64 * 1024)
        let total = self.total
        return .producing(length: total) { [self] in
            produced.withLock { count in
                guard count < total else { return nil }
                count += chunk.count
                return chunk
            }
        }
    }
}

/// Polls `condition` every 5 ms until it holds; gives up after a minute, a bound that only ends a failed test (a
/// busy machine may take seconds for what takes milliseconds here).
@discardableResult
func waitUntil(_ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(60)
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return await condition()
}
