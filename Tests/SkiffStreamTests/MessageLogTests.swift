import Foundation
import Glibc
import SkiffPOSIX
import SkiffTestSupport
import Testing

@testable import SkiffStream

/// The durable log under streams: what is acknowledged survives a reopen (a crash, a power loss), an unfinished
/// write is cut off, damage elsewhere is reported, concurrent appends share syncs, a full disk acknowledges
/// nothing it did not store, and deleted messages give their space back.
@Suite("message log")
struct MessageLogTests {
    private func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("skiff-log-\(UUID())").path
    }

    private func segments(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".seg") }.sorted()
    }

    @Test func whatWasAcknowledgedIsThereAfterAReopen() async throws {
        let directory = folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try MessageLog(directory: directory)
        let headers = Array("NATS/1.0\r\nNats-Msg-Id: a\r\n\r\n".utf8)
        #expect(
            try await log.append(subject: "faas-request", headers: headers, payload: Array("one".utf8), time: 11) == 1)
        #expect(try await log.append(subject: "faas-request", payload: [], time: 12) == 2)
        #expect(try await log.append(subject: "other", payload: Array("three".utf8), time: 13) == 3)

        let reopened = try MessageLog(directory: directory)
        #expect(reopened.recovery == MessageLog.Recovery(records: 3, truncatedBytes: 0))
        #expect(
            try reopened.message(1)
                == StoredMessage(
                    sequence: 1, subject: "faas-request", headers: headers, payload: Array("one".utf8), time: 11))
        #expect(try reopened.message(2)?.payload == [])
        #expect(try reopened.message(3)?.subject == "other")
        #expect(try reopened.message(4) == nil)
        #expect(
            reopened.summary
                == MessageLog.Summary(messages: 3, bytes: headers.count + 3 + 5, firstSequence: 1, lastSequence: 3))
    }

    @Test func anUnfinishedRecordIsCutOffAndNothingBeforeItIsLost() async throws {
        let directory = folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try MessageLog(directory: directory)
        for text in ["a", "b"] { _ = try await log.append(subject: "q", payload: Array(text.utf8), time: 1) }
        // A power loss in the middle of a write: the first bytes of a third record, and no more.
        let last = "\(directory)/\(try segments(directory).last ?? "")"
        let handle = try #require(FileHandle(forWritingAtPath: last))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0xA7, 0x01, 0, 0, 40, 0, 0, 0, 1, 2]))
        try handle.close()

        let recovered = try MessageLog(directory: directory)
        #expect(recovered.recovery == MessageLog.Recovery(records: 2, truncatedBytes: 10))
        #expect(try recovered.message(2)?.payload == Array("b".utf8))
        #expect(try await recovered.append(subject: "q", payload: Array("c".utf8), time: 2) == 3)
        let again = try MessageLog(directory: directory)
        #expect(again.recovery == MessageLog.Recovery(records: 3, truncatedBytes: 0))
    }

    @Test func damageBeforeTheEndIsReportedNotSkipped() async throws {
        let directory = folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Segments of one record each: the damage lies in a segment that is not the last.
        let log = try MessageLog(directory: directory, segmentBytes: 16)
        for text in ["first", "second"] { _ = try await log.append(subject: "q", payload: Array(text.utf8), time: 1) }
        let first = "\(directory)/\(try segments(directory).first ?? "")"
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: first)))
        bytes[bytes.count - 2] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: first))
        #expect {
            _ = try MessageLog(directory: directory, segmentBytes: 16)
        } throws: { error in
            (error as? MessageLogError).map { "\($0)".contains("checksum mismatch") } ?? false
        }
    }

    @Test func concurrentAppendsShareSyncsAndEachGetsItsOwnSequence() async throws {
        let directory = folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try MessageLog(directory: directory)
        let count = 200
        let sequences = try await withThrowingTaskGroup(of: UInt64.self) { group in
            for index in 0..<count {
                group.addTask { try await log.append(subject: "q", payload: Array("\(index)".utf8), time: 1) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(sequences) == Set(1...UInt64(count)))
        // The committer takes everything pending at each turn: 200 appends started at once wait on a shared
        // fdatasync rather than one each.
        #expect(log.syncCount < count, "\(log.syncCount) syncs for \(count) appends")
        #expect(try MessageLog(directory: directory).summary.messages == count)
    }

    @Test func deletedMessagesGiveTheirSegmentsBackAndTheNumberingGoesOn() async throws {
        let directory = folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Segments of one record each, so that each message (and each deletion) has a file of its own.
        let log = try MessageLog(directory: directory, segmentBytes: 16)
        for index in 1...5 { _ = try await log.append(subject: "q", payload: Array("m\(index)".utf8), time: 1) }
        let written = try segments(directory)
        #expect(written.count == 5)
        for sequence in 1...4 { #expect(try await log.delete(UInt64(sequence))) }
        #expect(try await log.delete(4) == false)
        // The oldest segments, their messages all gone, are removed; message 5's stays, and so do the deletions
        // written after it (they go with it, oldest first, never before).
        let left = Set(try segments(directory))
        #expect(written.prefix(4).allSatisfy { !left.contains($0) } && left.contains(written[4]))
        #expect(log.sequences == [5])
        #expect(try await log.delete(5))
        #expect(try segments(directory).count == 1)

        let reopened = try MessageLog(directory: directory, segmentBytes: 16)
        #expect(reopened.summary.messages == 0)
        #expect(try await reopened.append(subject: "q", payload: [], time: 1) == 6)
    }

    /// A tmpfs of 64 KiB stands in for a full disk (mounted by the test, as root).
    @Test(.enabled(if: getuid() == 0 || RealParts.isCI)) func aFullDiskAcknowledgesNothingItDidNotStore() async throws {
        let directory = folder()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = try await ChildProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", directory]).runChecked()
        let outcome: (acknowledged: [UInt64], refused: Int, reread: [UInt64], truncated: Int)
        do {
            outcome = try await fillUp("\(directory)/stream")
        } catch {
            _ = try? await ChildProcess("/bin/umount", ["-l", directory]).run()
            throw error
        }
        // After the logs above are released: they hold their segments open.
        _ = try await ChildProcess("/bin/umount", [directory]).runChecked()
        try? FileManager.default.removeItem(atPath: directory)
        #expect(outcome.refused > 0 && !outcome.acknowledged.isEmpty)
        #expect(outcome.truncated == 0)
        // Exactly what was acknowledged was there on reopening, in order.
        #expect(outcome.reread == outcome.acknowledged)
        #expect(outcome.acknowledged == Array(1...UInt64(outcome.acknowledged.count)))
    }

    private func fillUp(_ directory: String) async throws -> (
        acknowledged: [UInt64], refused: Int, reread: [UInt64], truncated: Int
    ) {
        let log = try MessageLog(directory: directory)
        var acknowledged: [UInt64] = []
        var refused = 0
        for _ in 0..<40 {
            do {
                acknowledged.append(
                    try await log.append(subject: "q", payload: [UInt8](repeating: 7, count: 4000), time: 1))
            } catch {
                refused += 1
            }
        }
        let reopened = try MessageLog(directory: directory)
        return (acknowledged, refused, reopened.sequences, reopened.recovery.truncatedBytes)
    }
}

extension MessageLogTests {
    /// What is left after every sequence, counted the cheap way, is what counting every live sequence gives: with
    /// holes near the front (a queue's acks), far from it, and none.
    @Test func theCountAfterASequenceIsTheCountOfLiveSequencesAboveIt() async throws {
        let directory = folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try MessageLog(directory: directory)
        for _ in 0..<200 { _ = try await log.append(subject: "q", payload: [1], time: 1) }
        func check() {
            let live = log.sequences
            for sequence in UInt64(0)...210 {
                #expect(log.count(after: sequence) == live.filter { $0 > sequence }.count, "after \(sequence)")
            }
        }
        check()
        for sequence in UInt64(1)...40 where sequence % 3 != 0 { _ = try await log.delete(sequence) }
        for sequence in UInt64(120)...190 where sequence % 2 == 0 { _ = try await log.delete(sequence) }
        check()
        for sequence in log.sequences.prefix(60) { _ = try await log.delete(sequence) }
        check()
    }
}
