import Foundation
import SkiffNATS
import SkiffNATSClient
import SkiffPOSIX
import SkiffTestSupport
import Testing

/// Pulls and acks of one consumer arriving on different event loops at once: CI once crashed the broker when an ack
/// on one loop and a pull on another both served the same waiting pull (two deliveries, then two removals from a
/// list of one). Each message must reach exactly one puller, and the broker must live.
@Suite("JetStream pulls from several loops at once")
struct JetStreamPullConcurrencyTests {
    @Test func pullsAndAcksFromManyConnectionsDeliverEachMessageOnce() async throws {
        try await onBothBrokersWithJetStream { broker in try await pullAndAck(on: broker) }
    }

    /// Acks release their message's room at once: each puller acks and pulls again without waiting, and with
    /// `max_ack_pending` the stream still never answers "no messages" while some remain.
    private func pullAndAck(on broker: any TestBroker) async throws {
        let address = try #require(SocketAddress(host: "127.0.0.1", port: broker.port))
        let admin = try await NATSClient.connect(to: address, loop: testGroup.loops[0])
        let stream = #"{"name":"WORK","subjects":["work"],"retention":"workqueue","storage":"file"}"#
        let created = try await admin.request(
            "$JS.API.STREAM.CREATE.WORK", payload: Array(stream.utf8), timeout: .seconds(60))
        #expect(created.map { String(decoding: $0.payload, as: UTF8.self).contains("\"error\"") } == false)
        let consumer = #"{"stream_name":"WORK","config":{"durable_name":"W","ack_policy":"explicit"}}"#
        let made = try await admin.request(
            "$JS.API.CONSUMER.DURABLE.CREATE.WORK.W", payload: Array(consumer.utf8), timeout: .seconds(60))
        #expect(made.map { String(decoding: $0.payload, as: UTF8.self).contains("\"error\"") } == false)
        let count = 2000
        // Each publish waits for its acknowledgement: then all are stored before the first pull (a plain PUB is
        // stored a little after the server reads it, and a no-wait pull would find nothing yet).
        for index in 0..<count {
            let stored = try await admin.request("work", payload: Array("\(index)".utf8), timeout: .seconds(60))
            #expect(stored.map { String(decoding: $0.payload, as: UTF8.self).contains("\"seq\"") } == true)
        }

        // Four pullers on alternating loops, each pulling one at a time and acking what it got, until the stream
        // answers "no messages" to a no-wait pull.
        let received = try await withThrowingTaskGroup(of: [String].self) { group in
            for puller in 0..<4 {
                group.addTask {
                    let client = try await NATSClient.connect(
                        to: address, loop: testGroup.loops[puller % testGroup.loops.count])
                    var got: [String] = []
                    while got.count <= count {
                        // With an expiry: nats-server 2.9 can keep a no-wait pull that finds every message out to
                        // other pullers and then never answer it once the stream runs dry (its issues 5373 and
                        // 7457, fixed upstream in 2025); the expiry makes it answer 408 then. Skiff's broker answers 404.
                        let next = try await client.request(
                            "$JS.API.CONSUMER.MSG.NEXT.WORK.W",
                            payload: Array(#"{"batch":1,"no_wait":true,"expires":1000000000}"#.utf8),
                            timeout: .seconds(60))
                        // A no-wait pull is always answered: a message, 404 at once, or 408 at its expiry.
                        #expect(next != nil, "a pull on \(broker.name) went unanswered after \(got.count) messages")
                        guard let message = next, message.status == nil, let ack = message.reply else { break }
                        got.append(String(decoding: message.payload, as: UTF8.self))
                        try await client.publish(ack, payload: Array("+ACK".utf8))
                    }
                    try await client.flush()
                    await client.close()
                    return got
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(received.count == count, "\(broker.name)")
        #expect(Set(received) == Set((0..<count).map { "\($0)" }), "\(broker.name)")
        await admin.close()
    }
}
