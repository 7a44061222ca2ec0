import Foundation
import Glibc
import SkiffPOSIX
import Testing

@Suite("file-system operations")
struct FileSystemTests {
    @Test func appendsLinksRenamesAndStatuses() throws {
        let folder = NSTemporaryDirectory() + "skiff-fs-\(UUID().uuidString)"
        try FileSystem.makeDirectory(folder, mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(throws: SystemError.self) { try FileSystem.makeDirectory(folder, mode: 0o700) }
        try FileSystem.makeDirectory(folder, mode: 0o700, existingIsFine: true)

        let log = "\(folder)/a.log"
        #expect(FileSystem.append(Array("one\n".utf8), to: log))
        #expect(FileSystem.append(Array("two\n".utf8), to: log))
        #expect(try String(contentsOfFile: log, encoding: .utf8) == "one\ntwo\n")
        #expect(FileSystem.status(log)?.size == 8)
        #expect(FileSystem.status("\(folder)/missing") == nil)

        try FileSystem.makeSymbolicLink(at: "\(folder)/link", to: "a.log")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/link") == "a.log")
        #expect(FileSystem.linkStatus("\(folder)/link")?.inode != FileSystem.status(log)?.inode)
        #expect(FileSystem.status("\(folder)/link")?.inode == FileSystem.status(log)?.inode)

        try FileSystem.rename(log, to: "\(folder)/b.log")
        #expect(!FileSystem.exists(log) && FileSystem.exists("\(folder)/b.log"))
        #expect(FileSystem.createEmpty(log, mode: 0o600) && FileSystem.status(log)?.size == 0)
        try FileSystem.setMode(log, 0o640)
        #expect(try FileManager.default.attributesOfItem(atPath: log)[.posixPermissions] as? Int == 0o640)
        FileSystem.removeIfPresent(log)
        FileSystem.removeIfPresent(log)
        #expect(!FileSystem.exists(log))
    }

    @Test func mountPointsAndProcesses() {
        #expect(FileSystem.isMountPoint("/"))
        #expect(FileSystem.isMountPoint("/proc"))
        #expect(!FileSystem.isMountPoint("/proc/self/fd"))
        #expect(Processes.exists(Processes.current))
        #expect(ProcessStat.openDescriptorCount() ?? 0 >= 3)
        #expect(ResourceLimits.openFilesLimit() ?? 0 >= 64)
    }
}

@Suite("waiting for a process to exit")
struct ProcessExitTests {
    static let group: EventLoopGroup = try! EventLoopGroup(loopCount: 1)

    @Test func aRunningProcessIsWaitedForUntilItEnds() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sleep")
        process.arguments = ["3600"]
        try process.run()
        let pid = process.processIdentifier
        let loop = Self.group.next()
        // Still running at the deadline: false, and the watch is gone with it.
        #expect(await Processes.waitForExit(pid, on: loop, until: .now + .milliseconds(20)) == false)
        #expect(Processes.isRunningOrUnknown(pid))
        // Ended (killed, whether reaped yet or not): the pidfd wakes the wait. SIGKILL, because the child inherits
        // the spawning thread's signal mask, which may block SIGTERM; the deadline only ends a failed test.
        Processes.signal(pid, SIGKILL)
        #expect(await Processes.waitForExit(pid, on: loop, until: .now + .seconds(120)))
        #expect(!Processes.isRunningOrUnknown(pid) || process.isRunning == false)
    }

    @Test func aProcessThatCannotExistHasEnded() async {
        // Above the largest PID Linux hands out (2^22): no such process.
        #expect(await Processes.waitForExit(4_194_305, on: Self.group.next(), until: .now + .seconds(120)))
        #expect(!Processes.isRunningOrUnknown(4_194_305))
    }
}
