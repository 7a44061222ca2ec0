import Foundation
import Synchronization
import Testing

@testable import SkiffStream

/// A stream's rules on top of its log: configuration kept and reopened, `Nats-Msg-Id` de-duplication (across a
/// reopen, and between concurrent publishes of one id), the size, message and byte limits with both discard
/// policies, and age.
@Suite("message stream")
struct MessageStreamTests {
    private func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("skiff-stream-\(UUID())").path
    }

    private func headers(id: String) -> [UInt8] { Array("NATS/1.0\r\nNats-Msg-Id: \(id)\r\n\r\n".utf8) }

    private let second: Int64 = 1_000_000_000

    @Test func aConfigurationAsClientsSendItIsKeptAndReopened() throws {
        let json =
            #"{"name":"faas-request","subjects":["faas-request"],"retention":"workqueue","storage":"file","num_replicas":1,"duplicate_window":0}"#
        let configuration = try JSONDecoder().decode(StreamConfiguration.self, from: Data(json.utf8))
        #expect(configuration.retention == .workQueue && configuration.maxMessages == -1)
        #expect(configuration.duplicateWindow == 120 * second)
        let directory = folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try MessageStream(directory: directory, configuration: configuration, now: 0)
        #expect(try MessageStream.open(directory: directory, now: 0).configuration == configuration)
        #expect(StreamConfiguration(name: "a.b", subjects: ["x"]).problem != nil)
        #expect(StreamConfiguration(name: "q", subjects: []).problem != nil)
    }

    @Test func aRepeatedMessageIDWithinTheWindowIsStoredOnceEvenAfterAReopen() async throws {
        let directory = folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = StreamConfiguration(name: "Q", subjects: ["q"])
        configuration.duplicateWindow = 10 * second
        let stream = try MessageStream(directory: directory, configuration: configuration, now: 0)
        let first = try await stream.publish(subject: "q", headers: headers(id: "a"), payload: [1], now: 1 * second)
        #expect(first == .init(stream: "Q", sequence: 1, duplicate: false))
        #expect(
            try await stream.publish(subject: "q", headers: headers(id: "a"), payload: [1], now: 2 * second)
                == .init(stream: "Q", sequence: 1, duplicate: true))
        let reopened = try MessageStream.open(directory: directory, now: 3 * second)
        #expect(
            try await reopened.publish(subject: "q", headers: headers(id: "a"), payload: [1], now: 4 * second)
                == .init(stream: "Q", sequence: 1, duplicate: true))
        // Past the window the id is new again.
        #expect(
            try await reopened.publish(subject: "q", headers: headers(id: "a"), payload: [1], now: 20 * second)
                == .init(stream: "Q", sequence: 2, duplicate: false))
        #expect(reopened.log.summary.messages == 2)
    }

    @Test func concurrentPublishesOfOneIDAllGetTheOneSequence() async throws {
        let directory = folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stream = try MessageStream(
            directory: directory, configuration: StreamConfiguration(name: "Q", subjects: ["q"]), now: 0)
        let headers = headers(id: "same")
        let acknowledgements = try await withThrowingTaskGroup(of: MessageStream.Acknowledgement.self) { group in
            for _ in 0..<20 {
                group.addTask { try await stream.publish(subject: "q", headers: headers, payload: [9], now: 1) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(acknowledgements.map(\.sequence)) == [1])
        #expect(acknowledgements.filter { !$0.duplicate }.count == 1)
        #expect(stream.log.summary.messages == 1)
    }

    @Test func limitsMakeRoomOrRefuseAsDiscardSays() async throws {
        let directory = folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var old = StreamConfiguration(name: "OLD", subjects: ["o"])
        old.maxMessages = 2
        let making = try MessageStream(directory: directory + "/old", configuration: old, now: 0)
        for payload in 1...4 { _ = try await making.publish(subject: "o", payload: [UInt8(payload)], now: 1) }
        #expect(making.log.sequences == [3, 4])

        var new = StreamConfiguration(name: "NEW", subjects: ["n"])
        new.maxMessages = 2
        new.discard = .new
        new.maxMessageSize = 8
        let refusing = try MessageStream(directory: directory + "/new", configuration: new, now: 0)
        for payload in 1...2 { _ = try await refusing.publish(subject: "n", payload: [UInt8(payload)], now: 1) }
        await #expect(throws: MessageStreamError.refused(10077, "maximum messages exceeded")) {
            _ = try await refusing.publish(subject: "n", payload: [3], now: 1)
        }
        await #expect(throws: MessageStreamError.refused(10054, "message size exceeds maximum allowed")) {
            _ = try await refusing.publish(subject: "n", payload: [UInt8](repeating: 0, count: 9), now: 1)
        }
        #expect(refusing.log.sequences == [1, 2])
    }

    /// The broker's publishes (answered by callback, many per commit) make room behind themselves too, with one
    /// pass of the limits at a time rather than a task per message.
    @Test func publishesAnsweredByCallbackAlsoMakeRoom() async throws {
        let directory = folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = StreamConfiguration(name: "CB", subjects: ["c"])
        configuration.maxMessages = 3
        let stream = try MessageStream(directory: directory, configuration: configuration, now: 0)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let left = Mutex(50)
            for payload in 1...50 {
                stream.publish(subject: "c", payload: [UInt8(payload)], now: 1) { result in
                    #expect((try? result.get()) != nil)
                    let last = left.withLock { remaining in
                        remaining -= 1
                        return remaining == 0
                    }
                    if last { done.resume() }
                }
            }
        }
        // The limits run after the answers: wait for them (the bound only ends a test that has already failed).
        let deadline = ContinuousClock.now + .seconds(60)
        while stream.log.sequences != [48, 49, 50] && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(stream.log.sequences == [48, 49, 50])
    }

    @Test func messagesOlderThanTheMaximumAgeGo() async throws {
        let directory = folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = StreamConfiguration(name: "AGE", subjects: ["a"])
        configuration.maxAge = 10 * second
        let stream = try MessageStream(directory: directory, configuration: configuration, now: 0)
        _ = try await stream.publish(subject: "a", payload: [1], now: 1 * second)
        _ = try await stream.publish(subject: "a", payload: [2], now: 5 * second)
        await stream.enforceLimits(now: 12 * second)
        #expect(stream.log.sequences == [2])
    }
}
