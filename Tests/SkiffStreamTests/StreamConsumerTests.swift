import Foundation
import Testing

@testable import SkiffStream

/// A work queue's consumer, at moments the test chooses: deliveries in order, redelivery after the ack wait (or
/// the backoff), `max_deliver`, `max_ack_pending`, and what ack, nak, progress and termination do.
@Suite("stream consumer")
struct StreamConsumerTests {
    private let second: Int64 = 1_000_000_000

    private func workQueue(_ payloads: [String], consumer configure: (inout ConsumerConfiguration) -> Void = { _ in })
        async throws -> (StreamConsumer, String)
    {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-consumer-\(UUID())").path
        let stream = try MessageStream(
            directory: directory,
            configuration: StreamConfiguration(name: "Q", subjects: ["q.>"], retention: .workQueue), now: 0)
        for payload in payloads { _ = try await stream.publish(subject: "q.job", payload: Array(payload.utf8), now: 0) }
        var configuration = ConsumerConfiguration(name: "W")
        configure(&configuration)
        return (StreamConsumer(stream: stream, configuration: configuration), directory)
    }

    private func text(_ delivery: StreamConsumer.Delivery?) -> String? {
        delivery.map { String(decoding: $0.message.payload, as: UTF8.self) }
    }

    @Test func anAckDeletesFromTheWorkQueueAndTheNextComesInOrder() async throws {
        let (consumer, directory) = try await workQueue(["a", "b"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try #require(consumer.next(now: 1).delivery)
        #expect(text(first) == "a" && first.deliveries == 1 && first.consumerSequence == 1 && first.pending == 1)
        #expect(await consumer.acknowledge(first.message.sequence))
        #expect(await consumer.acknowledge(first.message.sequence) == false)
        #expect(consumer.stream.log.sequences == [2])
        #expect(text(consumer.next(now: 2).delivery) == "b")
        #expect(consumer.next(now: 3).delivery == nil)
    }

    @Test func anUnackedMessageComesBackAfterTheWaitWithItsCountUp() async throws {
        let (consumer, directory) = try await workQueue(["a"]) { $0.ackWait = 2 * second }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(consumer.next(now: 0).delivery?.deliveries == 1)
        #expect(consumer.next(now: 1 * second).delivery == nil)
        #expect(consumer.nextDeadline == 2 * second)
        let again = try #require(consumer.next(now: 2 * second).delivery)
        #expect(again.deliveries == 2 && again.consumerSequence == 2 && consumer.numRedelivered == 1)
    }

    @Test func nakProgressAndTerminateDoWhatTheySay() async throws {
        let (consumer, directory) = try await workQueue(["a", "b", "c"]) { $0.ackWait = 10 * second }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let a = try #require(consumer.next(now: 0).delivery).message.sequence
        let b = try #require(consumer.next(now: 0).delivery).message.sequence
        let c = try #require(consumer.next(now: 0).delivery).message.sequence
        consumer.negativeAcknowledge(a, now: 1 * second)
        #expect(text(consumer.next(now: 1 * second).delivery) == "a")
        consumer.negativeAcknowledge(b, delay: 5 * second, now: 1 * second)
        consumer.inProgress(c, now: 9 * second)
        #expect(consumer.next(now: 5 * second).delivery == nil)
        #expect(text(consumer.next(now: 6 * second).delivery) == "b")
        // c's wait started again at 9 s: not due at 10 s.
        #expect(consumer.next(now: 10 * second).delivery == nil)
        await consumer.terminate(c)
        #expect(consumer.stream.log.sequences == [a, b])
        #expect(consumer.numAckPending == 2)
    }

    @Test func afterItsLastDeliveryAMessageIsNotDeliveredAgainAndStays() async throws {
        let (consumer, directory) = try await workQueue(["a"]) {
            $0.ackWait = 1 * second
            $0.maxDeliver = 2
        }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(consumer.next(now: 0).delivery?.deliveries == 1)
        #expect(consumer.next(now: 1 * second).delivery?.deliveries == 2)
        let (none, events) = consumer.next(now: 2 * second)
        #expect(none == nil && events == [.maxDeliveries(streamSequence: 1, deliveries: 2)])
        #expect(consumer.stream.log.sequences == [1] && consumer.numAckPending == 0)
    }

    @Test func backoffSetsEachWaitAndMaxAckPendingBoundsWhatIsOut() async throws {
        let (consumer, directory) = try await workQueue(["a", "b"]) {
            $0.backoff = [1 * second, 5 * second]
            $0.maxDeliver = 5
            $0.maxAckPending = 1
        }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(text(consumer.next(now: 0).delivery) == "a")
        // One out and unacknowledged: b waits.
        #expect(consumer.next(now: 0).delivery == nil)
        #expect(consumer.next(now: 1 * second).delivery?.deliveries == 2)
        #expect(consumer.next(now: 5 * second).delivery == nil)
        #expect(consumer.next(now: 6 * second).delivery?.deliveries == 3)
    }

    @Test func whatClientsSendIsReadAndWorkQueueRulesHold() throws {
        let json =
            #"{"durable_name":"W","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"filter_subject":"faas-request","deliver_policy":"all","max_ack_pending":0}"#
        let configuration = try JSONDecoder().decode(ConsumerConfiguration.self, from: Data(json.utf8))
        #expect(configuration.name == "W" && configuration.filterSubject == "faas-request")
        #expect(configuration.maxAckPending == 1000 && configuration.problem(on: .workQueue) == nil)
        var none = configuration
        none.ackPolicy = "none"
        #expect(none.problem(on: .workQueue)?.code == 10084)
    }

    /// A delivery whose work was started and that comes back after its wait ran out unanswered is marked as such
    /// (the work may have been done); one that comes back after a NAK, or that was never started, is not. The
    /// marks survive a restart through the file, which a puller can wait for before it starts the work.
    /// The snapshot written by hand is what the encoder writes, and reads back the same.
    @Test func theHandWrittenSnapshotIsWhatTheEncoderWrites() throws {
        for snapshot in [
            ConsumerSnapshot(cursor: 0, deliveries: 0, redelivered: 0, pending: []),
            ConsumerSnapshot(
                cursor: 42, deliveries: UInt64.max, redelivered: 3, pending: [[1, 2, 3], [UInt64.max, 1, 0], [7, 9]]),
        ] {
            let mine = try JSONSerialization.jsonObject(with: Data(snapshot.json())) as? NSDictionary
            let theirs = try JSONSerialization.jsonObject(with: JSONEncoder().encode(snapshot)) as? NSDictionary
            #expect(mine != nil && mine == theirs)
            #expect(try JSONDecoder().decode(ConsumerSnapshot.self, from: Data(snapshot.json())) == snapshot)
        }
    }

    @Test func redeliveriesAfterSilenceAreToldFromRetriesAcrossARestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-consumer-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stream = try MessageStream(
            directory: directory,
            configuration: StreamConfiguration(name: "Q", subjects: ["q"], retention: .workQueue), now: 0)
        for payload in ["silent", "refused", "held"] {
            _ = try await stream.publish(subject: "q", payload: Array(payload.utf8), now: 0)
        }
        var configuration = ConsumerConfiguration(name: "W")
        configuration.ackWait = second
        let file = directory + "/W.state"
        let before = StreamConsumer(stream: stream, configuration: configuration, stateFile: file, now: 0)
        let silent = try #require(before.next(now: 0).delivery)
        let refused = try #require(before.next(now: 0).delivery)
        let held = try #require(before.next(now: 0).delivery)
        #expect(!silent.afterSilence && !refused.afterSilence && !held.afterSilence)
        before.started(silent.message.sequence)
        before.started(refused.message.sequence)
        before.negativeAcknowledge(refused.message.sequence, now: 0)
        let retry = try #require(before.next(now: 0).delivery)
        #expect(text(retry) == "refused" && retry.deliveries == 2 && !retry.afterSilence)
        before.negativeAcknowledge(refused.message.sequence, now: 0)
        await before.deliveriesKept()

        // "Restarted": the NAK'd one is a retry, the one never answered comes back marked.
        let after = StreamConsumer(stream: stream, configuration: configuration, stateFile: file, now: 5 * second)
        let again = (0..<3).compactMap { _ in after.next(now: 6 * second).delivery }
        #expect(
            again.map { "\(text($0) ?? "?") \($0.deliveries) \($0.afterSilence)" }.sorted() == [
                "held 2 false", "refused 3 false", "silent 2 true",
            ])
        // Started and unanswered again (the puller died again): marked again; never started: not marked.
        for delivery in again where text(delivery) != "held" { after.started(delivery.message.sequence) }
        let later = (0..<3).compactMap { _ in after.next(now: 8 * second).delivery }
        #expect(
            later.map { "\(text($0) ?? "?") \($0.afterSilence)" }.sorted() == [
                "held false", "refused true", "silent true",
            ])
    }

    /// Made again from its file (a restart), a consumer of a stream that keeps acknowledged messages delivers
    /// neither those again nor one that used its last delivery, and goes on where it stopped.
    @Test func aConsumerMadeAgainFromItsFileGoesOnWhereItStopped() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-consumer-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stream = try MessageStream(
            directory: directory, configuration: StreamConfiguration(name: "L", subjects: ["l"]), now: 0)
        for payload in ["a", "b", "c", "d"] {
            _ = try await stream.publish(subject: "l", payload: Array(payload.utf8), now: 0)
        }
        var configuration = ConsumerConfiguration(name: "C")
        configuration.ackWait = second
        configuration.maxDeliver = 2
        let file = directory + "/C.state"
        let before = StreamConsumer(stream: stream, configuration: configuration, stateFile: file, now: 0)
        let delivered = (0..<3).compactMap { _ in before.next(now: 0).delivery }
        #expect(delivered.map { text($0) } == ["a", "b", "c"])
        #expect(await before.acknowledge(1))
        #expect(await before.acknowledge(3))
        #expect(before.next(now: 2 * second).delivery.map { [text($0), "\($0.deliveries)"] } == ["b", "2"])
        #expect(text(before.next(now: 2 * second).delivery) == "d")
        // An ack on this stream is answered once the journal carries it, and with it everything before.
        #expect(await before.acknowledge(4))
        #expect(FileManager.default.fileExists(atPath: file + ".journal"))

        let after = StreamConsumer(stream: stream, configuration: configuration, stateFile: file, now: 10 * second)
        #expect(after.numAckPending == 1 && after.numRedelivered == 1)
        #expect(after.next(now: 10 * second).delivery == nil)
        // "b" was delivered twice before the restart: at its wait's end it is reported, not delivered a third time.
        let (none, events) = after.next(now: 12 * second)
        #expect(none == nil)
        #expect(events == [.maxDeliveries(streamSequence: 2, deliveries: 2)])
        _ = try await stream.publish(subject: "l", payload: Array("e".utf8), now: 12 * second)
        let next = try #require(after.next(now: 12 * second).delivery)
        #expect(text(next) == "e" && next.deliveries == 1 && next.consumerSequence == 6)

        // Retired (its consumer deleted), it removes its journal and writes nothing more.
        after.retire()
        #expect(!FileManager.default.fileExists(atPath: file + ".journal"))
        _ = try await stream.publish(subject: "l", payload: Array("f".utf8), now: 13 * second)
        let last = try #require(after.next(now: 13 * second).delivery)
        #expect(await after.acknowledge(last.message.sequence))
        #expect(!FileManager.default.fileExists(atPath: file))
        #expect(!FileManager.default.fileExists(atPath: file + ".journal"))
    }
}
