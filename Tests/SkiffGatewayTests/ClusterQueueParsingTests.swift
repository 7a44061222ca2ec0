import SkiffPOSIX
import Testing

@testable import SkiffQueue

/// What `--queue nats://…` and a cluster's deliveries are read from, without a cluster.
@Suite("The cluster queue's parsing")
struct ClusterQueueParsingTests {
    @Test func addressesListServersAndCredentials() throws {
        let plain = try ClusterAddress(parsing: "nats://127.0.0.1:4222,127.0.0.1:4223,nats://[::1]:4224")
        #expect(plain.servers.map(\.description) == ["127.0.0.1:4222", "127.0.0.1:4223", "[::1]:4224"])
        #expect(plain.user == nil && plain.token == nil)
        let user = try ClusterAddress(parsing: "nats://queue:p%40ss@10.0.0.5:4222")
        #expect(user.user == "queue" && user.password == "p@ss" && user.servers.count == 1)
        #expect(user.display == "nats://10.0.0.5:4222", "credentials are never shown")
        let token = try ClusterAddress(parsing: "nats://s3cret@127.0.0.1:4222")
        #expect(token.token == "s3cret" && token.user == nil)
    }

    @Test func unusableAddressesAreRefusedWithTheReason() {
        for text in [
            "127.0.0.1:4222", "http://127.0.0.1:4222", "nats://", "nats://127.0.0.1", "nats://127.0.0.1:0",
            "nats://127.0.0.1:70000", "nats://127.0.0.1:4222,", "nats://user:pass@",
        ] {
            #expect(throws: ClusterAddressError.self, "\(text)") { try ClusterAddress(parsing: text) }
        }
    }

    @Test func ackSubjectsGiveTheDeliverysCounts() throws {
        let short = try #require(
            ClusterConsumer.parseAckSubject("$JS.ACK.faas-request.skiff-worker.3.41.57.1796575246001245756.12"))
        #expect(short.deliveries == 3 && short.streamSequence == 41 && short.consumerSequence == 57)
        #expect(short.time == 1_796_575_246_001_245_756 && short.pending == 12)
        // The longer form, with a domain and an account hash (and a random token) around the same fields.
        let long = try #require(
            ClusterConsumer.parseAckSubject(
                "$JS.ACK.hub.ACCHASH.faas-request.skiff-worker.1.7.8.1796575246001245756.0.xyz"))
        #expect(long.deliveries == 1 && long.streamSequence == 7 && long.consumerSequence == 8 && long.pending == 0)
        for bad in [
            "", "$JS.ACK.s.c.1.2.3", "$JS.ACK.s.c.x.2.3.4.5", "$JS.NAK.s.c.1.2.3.4.5", "_INBOX.a.b.c.d.e.f.g.h",
        ] {
            #expect(ClusterConsumer.parseAckSubject(bad) == nil, "\(bad)")
        }
    }

    @Test func storedTimesKeepTheirNanoseconds() {
        #expect(
            ClusterJetStream.nanoseconds(fromRFC3339: "2026-12-06T16:49:43.123456789Z") == 1_796_575_783_123_456_789)
        #expect(ClusterJetStream.nanoseconds(fromRFC3339: "2026-12-06T16:49:43.5Z") == 1_796_575_783_500_000_000)
        #expect(ClusterJetStream.nanoseconds(fromRFC3339: "2026-12-06T16:49:43Z") == 1_796_575_783_000_000_000)
        #expect(ClusterJetStream.nanoseconds(fromRFC3339: "yesterday") == nil)
    }
}
