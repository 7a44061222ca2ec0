import Foundation
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
