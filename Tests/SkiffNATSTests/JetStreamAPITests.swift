import Foundation
import Testing

@testable import SkiffNATS

/// The answers JetStream writes by hand (the hot ones) against what a JSON encoder writes for the same values.
@Suite("JetStream API answers")
struct JetStreamAPITests {
    private struct Expected: Encodable {
        var stream: String
        var seq: UInt64
        var duplicate: Bool?
    }

    @Test(arguments: ["ORDERS", "with \"quotes\" and \\", "tab\there\u{1}", "ünïcode-流"])
    func aPublishAcknowledgementIsTheJSONAnEncoderWrites(name: String) throws {
        for (sequence, duplicate) in [(UInt64(1), false), (UInt64.max, true)] {
            let written = JetStreamAPI.publishAcknowledgement(stream: name, sequence: sequence, duplicate: duplicate)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes]
            let expected = try encoder.encode(Expected(stream: name, seq: sequence, duplicate: duplicate ? true : nil))
            // Equal as JSON values (an encoder may spell an escape differently), and the same keys in the same
            // order as nats-server's PubAck.
            let parsed = try JSONSerialization.jsonObject(with: Data(written)) as? NSDictionary
            #expect(parsed == (try JSONSerialization.jsonObject(with: expected) as? NSDictionary))
            #expect(String(decoding: written, as: UTF8.self).hasPrefix(#"{"stream":""#))
            #expect(String(decoding: written, as: UTF8.self).contains(#","seq":\#(sequence)"#))
        }
    }
}
