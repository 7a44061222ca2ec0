import Foundation
import Testing

@testable import SkiffStream

/// A consumer's state kept as a snapshot and a journal of changes: read back the same however often the journal
/// was folded into the snapshot, and after a torn last record.
@Suite("consumer journal")
struct ConsumerJournalTests {
    private let second: Int64 = 1_000_000_000

    private func stream(_ directory: String, messages: Int) async throws -> MessageStream {
        let stream = try MessageStream(
            directory: directory, configuration: StreamConfiguration(name: "L", subjects: ["l"]), now: 0)
        for index in 0..<messages {
            _ = try await stream.publish(subject: "l", payload: Array("m\(index)".utf8), now: 0)
        }
        return stream
    }

    /// 300 messages through a consumer whose journal is folded into the snapshot every ten records: some acked,
    /// some nak'd, some started, some delivered twice. A consumer made again from the files delivers exactly what
    /// the first would have: the nak'd and the unanswered again (the started ones marked), and never an acked one.
    @Test(arguments: [29 * 10, 1 << 20])
    func whatIsKeptReadsBackTheSameWithOrWithoutCompaction(journalBytes: Int) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stream = try await stream(directory, messages: 300)
        var configuration = ConsumerConfiguration(name: "C")
        configuration.ackWait = second
        let file = directory + "/C.state"
        let before = StreamConsumer(
            stream: stream, configuration: configuration, stateFile: file, now: 0, journalBytes: journalBytes)
        var expectedAgain: [UInt64: Bool] = [:]  // sequence → comes back marked as after silence
        for _ in 0..<300 {
            let delivery = try #require(before.next(now: 0).delivery)
            let sequence = delivery.message.sequence
            switch sequence % 4 {
            case 0: #expect(await before.acknowledge(sequence))
            case 1: before.negativeAcknowledge(sequence, delay: 5 * second, now: 0)
            case 2:
                before.started(sequence)
                expectedAgain[sequence] = true
            default: expectedAgain[sequence] = false
            }
            if sequence % 4 == 1 { expectedAgain[sequence] = false }
        }
        await before.deliveriesKept()
        #expect(before.numAckPending == 225)
        if journalBytes < 1 << 20 {
            #expect(FileManager.default.fileExists(atPath: file))
            let size = (try? FileManager.default.attributesOfItem(atPath: file + ".journal")[.size] as? Int) ?? -1
            #expect(size >= 0 && size < 29 * 300, "\(size)")
        }

        let after = StreamConsumer(
            stream: stream, configuration: configuration, stateFile: file, now: 10 * second,
            journalBytes: journalBytes)
        #expect(after.cursor == 300 && after.numAckPending == 225 && after.numRedelivered == 0)
        #expect(after.next(now: 10 * second).delivery == nil)
        var seen: [UInt64: Bool] = [:]
        while let delivery = after.next(now: 11 * second).delivery {
            #expect(delivery.deliveries == 2)
            seen[delivery.message.sequence] = delivery.afterSilence
        }
        #expect(seen == expectedAgain)
        #expect(after.numRedelivered == 225)
    }

    /// A crash in the middle of a write leaves part of a record: it is cut off, what came before is kept, and
    /// what is written next is read back after it.
    @Test func aTornLastRecordIsCutOffAndTheJournalGoesOn() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stream = try await stream(directory, messages: 3)
        let configuration = ConsumerConfiguration(name: "C")
        let file = directory + "/C.state"
        let first = StreamConsumer(stream: stream, configuration: configuration, stateFile: file, now: 0)
        let one = try #require(first.next(now: 0).delivery)
        first.started(one.message.sequence)
        await first.deliveriesKept()
        let handle = try #require(FileHandle(forWritingAtPath: file + ".journal"))
        handle.seekToEndOfFile()
        handle.write(Data([2, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]))
        try handle.close()

        let second = StreamConsumer(stream: stream, configuration: configuration, stateFile: file, now: 0)
        #expect(second.cursor == 1 && second.numAckPending == 1)
        let size = (try? FileManager.default.attributesOfItem(atPath: file + ".journal")[.size] as? Int) ?? -1
        #expect(size % ConsumerEvent.recordSize == 0)
        let two = try #require(second.next(now: 0).delivery)
        #expect(two.message.sequence == 2)
        await second.deliveriesKept()

        let third = StreamConsumer(stream: stream, configuration: configuration, stateFile: file, now: 0)
        #expect(third.cursor == 2 && third.numAckPending == 2)
    }

    @Test func everyEventReadsBackFromItsRecordAndADamagedOneDoesNot() {
        for event in [
            ConsumerEvent.delivered(7, deliveries: 3), .flagged(UInt64.max, flags: 3), .removed(1),
        ] {
            var record = event.record(version: 42)
            #expect(record.count == ConsumerEvent.recordSize)
            #expect(ConsumerEvent.read(record[...])?.event == event && ConsumerEvent.read(record[...])?.version == 42)
            record[10] ^= 1
            #expect(ConsumerEvent.read(record[...]) == nil)
        }
    }
}

extension ConsumerJournalTests {
    /// In a work queue an ack is kept by the message's deletion, not by the journal: after a restart the acked
    /// message is neither waiting nor delivered again, and the others are.
    @Test func aWorkQueuesAckIsKeptByTheDeletion() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stream = try MessageStream(
            directory: directory, configuration: StreamConfiguration(name: "W", subjects: ["w"], retention: .workQueue),
            now: 0)
        for index in 0..<3 { _ = try await stream.publish(subject: "w", payload: Array("m\(index)".utf8), now: 0) }
        var configuration = ConsumerConfiguration(name: "C")
        configuration.ackWait = second
        let file = directory + "/C.state"
        let before = StreamConsumer(stream: stream, configuration: configuration, stateFile: file, now: 0)
        let delivered = (0..<3).compactMap { _ in before.next(now: 0).delivery?.message.sequence }
        #expect(delivered == [1, 2, 3])
        #expect(await before.acknowledge(2))
        await before.deliveriesKept()
        #expect(stream.log.sequences == [1, 3])

        let after = StreamConsumer(stream: stream, configuration: configuration, stateFile: file, now: 0)
        #expect(after.numAckPending == 2 && after.cursor == 3)
        let again = (0..<3).compactMap { _ in after.next(now: 2 * second).delivery?.message.sequence }
        #expect(again.sorted() == [1, 3])
    }
}
