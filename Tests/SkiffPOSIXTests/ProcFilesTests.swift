import Foundation
import Glibc
import Testing

@testable import SkiffPOSIX

@Suite("/proc and durable files")
struct ProcFilesTests {
    @Test func aCommandWithSpacesAndParenthesesDoesNotShiftTheFields() throws {
        let line =
            "4242 (a (b) c) Z 17 4242 4242 0 -1 4194560 1 0 0 0 7 3 0 0 20 0 1 0 100 8192 12 18446744073709551615"
        let stat = try #require(ProcessStat.parse(ArraySlice(line.utf8)))
        #expect(stat.state == UInt8(ascii: "Z") && stat.isZombieOrDead && stat.parent == 17)
        #expect(stat.userTicks == 7 && stat.systemTicks == 3 && stat.virtualBytes == 8192 && stat.residentPages == 12)
        #expect(ProcessStat.parse(ArraySlice("garbage".utf8)) == nil)
    }

    @Test func thisProcessAndAGoneOneReadAsTheyAre() throws {
        let mine = try ProcessStat.read()
        #expect(mine.parent == getppid() && !mine.isZombieOrDead && mine.residentPages > 0)
        // pid_max is at most 2^22: this one never exists.
        #expect(throws: SystemError.self) { try ProcessStat.read(pid: 9_999_999) }
    }

    @Test func createMakesAFileOnceAndNeverReplacesIt() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-durable-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/nested/secret"
        try DurableFile.create(Array("first".utf8), at: path, mode: 0o600)
        #expect {
            try DurableFile.create(Array("second".utf8), at: path, mode: 0o600)
        } throws: { error in
            (error as? SystemError)?.errno == EEXIST
        }
        #expect(FileManager.default.contents(atPath: path) == Data("first".utf8))
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        // No temporary file is left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/nested") == ["secret"])
    }
}
