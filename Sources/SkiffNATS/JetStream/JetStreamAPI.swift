import Foundation
import SkiffPOSIX
import SkiffStream

/// The JSON JetStream clients read back from `$JS.API` and from publishes to streams (nats-server's shapes).
enum JetStreamAPI {
    struct Failure: Encodable {
        var type: String
        var error: Detail

        struct Detail: Encodable {
            var code: Int
            var errCode: Int
            var description: String

            enum CodingKeys: String, CodingKey {
                case code, description
                case errCode = "err_code"
            }
        }
    }

    struct StreamInfo: Encodable {
        var type: String
        var config: StreamConfiguration
        var created: String
        var state: State
        var didCreate: Bool?

        struct State: Encodable {
            var messages: Int
            var bytes: Int
            var firstSeq: UInt64
            var lastSeq: UInt64
            var consumerCount: Int

            enum CodingKeys: String, CodingKey {
                case messages, bytes
                case firstSeq = "first_seq"
                case lastSeq = "last_seq"
                case consumerCount = "consumer_count"
            }
        }

        enum CodingKeys: String, CodingKey {
            case type, config, created, state
            case didCreate = "did_create"
        }
    }

    struct StreamNames: Encodable {
        var type = "io.nats.jetstream.api.v1.stream_names_response"
        var total: Int
        var offset = 0
        var limit = 1024
        var streams: [String]
    }

    struct Success: Encodable {
        var type: String
        var success = true
        var purged: Int?
    }

    struct AccountInfo: Encodable {
        var type = "io.nats.jetstream.api.v1.account_info_response"
        var memory = 0
        var storage: Int
        var streams: Int
        var consumers: Int
        var limits = Limits()
        var api = API()

        struct Limits: Encodable {
            var maxMemory = -1
            var maxStorage = -1
            var maxStreams = -1
            var maxConsumers = -1

            enum CodingKeys: String, CodingKey {
                case maxMemory = "max_memory"
                case maxStorage = "max_storage"
                case maxStreams = "max_streams"
                case maxConsumers = "max_consumers"
            }
        }

        struct API: Encodable {
            var total = 0
            var errors = 0
        }
    }

    struct ConsumerInfo: Encodable {
        var type: String
        var streamName: String
        var name: String
        var created: String
        var config: ConsumerConfiguration
        var delivered = Sequences()
        var ackFloor = Sequences()
        var numAckPending: Int
        var numRedelivered: Int
        var numWaiting: Int
        var numPending: Int

        struct Sequences: Encodable {
            var consumerSeq: UInt64 = 0
            var streamSeq: UInt64 = 0

            enum CodingKeys: String, CodingKey {
                case consumerSeq = "consumer_seq"
                case streamSeq = "stream_seq"
            }
        }

        enum CodingKeys: String, CodingKey {
            case type, name, created, config, delivered
            case streamName = "stream_name"
            case ackFloor = "ack_floor"
            case numAckPending = "num_ack_pending"
            case numRedelivered = "num_redelivered"
            case numWaiting = "num_waiting"
            case numPending = "num_pending"
        }
    }

    /// `{"stream":NAME,"seq":N}` (with `"duplicate":true` when it was one), as nats-server writes a PubAck. Written
    /// by hand: every stored publish gets one, and a JSONEncoder per answer cost more than the publish itself.
    static func publishAcknowledgement(stream: String, sequence: UInt64, duplicate: Bool) -> [UInt8] {
        var bytes = Array(#"{"stream":"#.utf8)
        JSONText.appendQuoted(stream, to: &bytes)
        bytes += #","seq":"#.utf8
        bytes += String(sequence).utf8
        if duplicate { bytes += #","duplicate":true"#.utf8 }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return (try? Array(encoder.encode(value))) ?? Array("{}".utf8)
    }

    static func failure(_ kind: String, code: Int, errCode: Int, _ description: String) -> [UInt8] {
        encode(
            Failure(
                type: "io.nats.jetstream.api.v1.\(kind)_response",
                error: .init(code: code, errCode: errCode, description: description)))
    }

    /// RFC 3339 with nanoseconds, as Go marshals a time.
    static func timestamp(_ nanoseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(nanoseconds) / 1e9))
    }
}
