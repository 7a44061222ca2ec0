import Glibc
import Testing

@testable import SkiffPOSIX

@Suite("Child processes")
struct ChildProcessTests {
    @Test func streamsLinesUntilExitAndReportsFailure() async throws {
        var lines: [String] = []
        for try await line in try ChildProcess("/bin/sh", ["-c", "echo one; printf 'two\\nthree'"]).lines() {
            lines.append(line)
        }
        #expect(lines == ["one", "two", "three"])
        await #expect(throws: ChildProcessError.self) {
            for try await _ in try ChildProcess("/bin/sh", ["-c", "echo x; exit 4"]).lines() {}
        }
    }

    @Test func aStreamingChildCanBeSignalledByPID() async throws {
        let child = try ChildProcess("/bin/sh", ["-c", "echo started; exec sleep 30"]).start()
        var iterator = child.lines.makeAsyncIterator()
        #expect(try await iterator.next() == "started")
        kill(child.pid, SIGKILL)
        await #expect(throws: ChildProcessError.self) { while try await iterator.next() != nil {} }
    }

    /// A child gets standard input, output and error, and nothing else, even a descriptor opened without
    /// O_CLOEXEC: a long-lived child holding a socket would keep its peer from ever seeing the close (CI: a
    /// daemon that a test spawned kept another test's client connection open for a minute).
    @Test func aChildInheritsNoDescriptorButTheStandardThree() async throws {
        let leaked = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(leaked >= 0)
        defer { close(leaked) }
        let listing = try await ChildProcess("/bin/ls", ["/proc/self/fd"]).runChecked()
        let open = listing.outputText.split(separator: "\n").compactMap { Int32($0) }
        #expect(!open.contains(leaked), "the child has descriptors \(open)")
        #expect(open.filter { $0 > 2 }.count <= 1, "beyond its own directory listing: \(open)")
    }

    @Test func capturesOutputAndExitStatus() async throws {
        let echo = try await ChildProcess("/bin/echo", ["hello", "world"]).run()
        #expect(echo.succeeded && echo.outputText == "hello world\n" && echo.standardError.isEmpty)
        let failing = try await ChildProcess("/bin/sh", ["-c", "echo partial; echo 'disk full' >&2; exit 3"]).run()
        #expect(failing.exitCode == 3 && !failing.succeeded)
        #expect(failing.outputText == "partial\n" && failing.errorText == "disk full\n")
    }

    @Test func checkedRunsCarryStderrIntoTheError() async throws {
        do {
            _ = try await ChildProcess("/bin/sh", ["-c", "echo 'image not found' >&2; exit 1"]).runChecked()
            Issue.record("a failing child did not throw")
        } catch let error as ChildProcessError {
            #expect(
                error.description
                    == "`/bin/sh -c echo 'image not found' >&2; exit 1` exited with status 1: image not found")
        }
    }

    @Test func feedsStandardInputAndReplacesTheEnvironment() async throws {
        var cat = ChildProcess("/bin/cat")
        cat.standardInput = Array(repeating: 0x61, count: 300_000)
        let copied = try await cat.run()
        #expect(copied.standardOutput.count == 300_000)
        var env = ChildProcess("/usr/bin/env")
        env.environment = ["ONLY": "this"]
        #expect(try await env.run().outputText == "ONLY=this\n")
    }

    @Test func largeOutputIsReadWithoutDeadlock() async throws {
        let big = try await ChildProcess("/bin/sh", ["-c", "head -c 5000000 /dev/zero; head -c 100000 /dev/zero >&2"])
            .run()
        #expect(big.standardOutput.count == 5_000_000 && big.standardError.count == 100_000)
    }

    /// The signals are the proof: `sleep 30` ends by itself only with status 0 after 30 s. (An upper bound on the
    /// elapsed time once failed here under a parallel build.)
    @Test func timeoutSendsTERMThenKILL() async throws {
        let polite = try await ChildProcess("/bin/sleep", ["30"], timeout: .milliseconds(200)).run()
        #expect(polite.timedOut && polite.signal == SIGTERM)
        var stubborn = ChildProcess("/bin/sh", ["-c", "trap '' TERM; exec sleep 30"], timeout: .milliseconds(200))
        stubborn.killGrace = .milliseconds(200)
        let killed = try await stubborn.run()
        #expect(killed.timedOut && killed.signal == SIGKILL)
    }

    @Test func aMissingProgramIsAnErrorNotAnOutcome() async {
        await #expect(throws: SystemError.self) { _ = try await ChildProcess("/nonexistent/ctr", ["version"]).run() }
    }

    @Test func manyChildrenRunAtOnce() async throws {
        let outputs = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<20 { group.addTask { try await ChildProcess("/bin/echo", ["\(i)"]).run().outputText } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(Set(outputs) == Set((0..<20).map { "\($0)\n" }))
    }
}
