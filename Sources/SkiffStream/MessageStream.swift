import Foundation
import SkiffPOSIX
import Synchronization

/// One JetStream stream: its configuration, kept beside its log, and the rules a publish must pass before and
/// after it is stored: the size limit, de-duplication by `Nats-Msg-Id` within the window, the message and byte
/// limits (making room by deleting the oldest, or refusing, as `discard` says), and the age limit.
public final class MessageStream: Sendable {
    public let configuration: StreamConfiguration
    public let log: MessageLog
    /// Notified after every message stored, whoever published it: readers in the process (the queue's worker)
    /// wait on it instead of polling.
    public let stored = ChangeSignal()
    private let state: Mutex<State>

    private struct State {
        /// `Nats-Msg-Id`s stored within the window: their sequence and when.
        var recent: [String: (sequence: UInt64, time: Int64)] = [:]
        /// Ids being stored right now, with the publishes of the same id that wait for the first.
        var storing: [String: [@Sendable (Result<UInt64, MessageStreamError>) -> Void]] = [:]
        /// Publishes under way, counted against `discard: new` limits before they are stored.
        var inFlightMessages = 0
        var inFlightBytes = 0
        /// When ids older than the window were last forgotten: at most once a second, not on every publish.
        var lastPruned: Int64 = 0
        /// A task applying the limits runs; `limitsAgain` asks it for one more pass (publishes stored meanwhile),
        /// `limitsNow` is the newest publish time it is to apply them at.
        var limitsRunning = false
        var limitsAgain = false
        var limitsNow: Int64 = 0
    }

    /// What a publish gets back (JetStream's `PubAck`).
    public struct Acknowledgement: Sendable, Equatable {
        public var stream: String
        public var sequence: UInt64
        /// The message id was seen within the window: nothing was stored, `sequence` is the original's.
        public var duplicate: Bool
    }

    /// Creates the stream in `directory` (its configuration written durably beside the log), or opens it there.
    public convenience init(directory: String, configuration: StreamConfiguration, now: Int64)
        throws(MessageStreamError)
    {
        if let problem = configuration.problem { throw .invalid(problem) }
        do {
            try DurableFile.write(try JSONEncoder().encode(configuration).map { $0 }, to: "\(directory)/config.json")
        } catch {
            throw .system("cannot write \(directory)/config.json: \(error)")
        }
        try self.init(directory: directory, checked: configuration, now: now)
    }

    /// Opens the stream whose configuration is in `directory`.
    public static func open(directory: String, now: Int64) throws(MessageStreamError) -> MessageStream {
        let configuration: StreamConfiguration
        do {
            configuration = try JSONDecoder().decode(
                StreamConfiguration.self, from: Data(contentsOf: URL(fileURLWithPath: "\(directory)/config.json")))
        } catch {
            throw .system("cannot read \(directory)/config.json: \(error)")
        }
        return try MessageStream(directory: directory, checked: configuration, now: now)
    }

    private init(directory: String, checked configuration: StreamConfiguration, now: Int64) throws(MessageStreamError) {
        self.configuration = configuration
        do {
            log = try MessageLog(directory: "\(directory)/log")
        } catch {
            throw .system("\(error)")
        }
        var state = State()
        // The window's ids, newest first, back to the window's start.
        for sequence in log.sequences.reversed() {
            guard let message = try? log.message(sequence), message.time >= now - configuration.duplicateWindow else {
                break
            }
            if let id = Self.messageID(message.headers), state.recent[id] == nil {
                state.recent[id] = (sequence, message.time)
            }
        }
        self.state = Mutex(state)
    }

    /// Stores a message, unless it is a duplicate within the window or breaks a limit; answers once it is on disk,
    /// and once the limits have made room behind it.
    public func publish(subject: String, headers: [UInt8] = [], payload: [UInt8], now: Int64)
        async throws(MessageStreamError) -> Acknowledgement
    {
        let result = await withCheckedContinuation { continuation in
            publish(subject: subject, headers: headers, payload: payload, now: now, enforcingLimits: false) {
                continuation.resume(returning: $0)
            }
        }
        let acknowledgement = try result.get()
        if !acknowledgement.duplicate { await enforceLimits(now: now) }
        return acknowledgement
    }

    /// Like the async publish, but queued now, in the order of the calls (a publisher's order, which the broker
    /// keeps from its loop), with the answer given to `completion` once stored; the limits make room afterwards.
    public func publish(
        subject: String, headers: [UInt8] = [], payload: [UInt8], now: Int64,
        completion: @escaping @Sendable (Result<Acknowledgement, MessageStreamError>) -> Void
    ) {
        publish(subject: subject, headers: headers, payload: payload, now: now, enforcingLimits: true, completion)
    }

    private func publish(
        subject: String, headers: [UInt8], payload: [UInt8], now: Int64, enforcingLimits: Bool,
        _ completion: @escaping @Sendable (Result<Acknowledgement, MessageStreamError>) -> Void
    ) {
        let name = configuration.name
        let size = headers.count + payload.count
        if configuration.maxMessageSize >= 0 && size > configuration.maxMessageSize {
            completion(.failure(.refused(10054, "message size exceeds maximum allowed")))
            return
        }
        let id = Self.messageID(headers)
        enum Admission {
            case store
            case duplicate(UInt64)
            case waiting
            case refuse(MessageStreamError)
        }
        let admission = state.withLock { state -> Admission in
            if let id {
                if now - state.lastPruned >= 1_000_000_000 {
                    state.recent = state.recent.filter { $0.value.time >= now - configuration.duplicateWindow }
                    state.lastPruned = now
                }
                if let seen = state.recent[id], seen.time >= now - configuration.duplicateWindow {
                    return .duplicate(seen.sequence)
                }
                if state.storing[id] != nil {
                    // Another publish of this id is being stored: this one gets its sequence, as a duplicate.
                    state.storing[id, default: []].append { result in
                        completion(result.map { Acknowledgement(stream: name, sequence: $0, duplicate: true) })
                    }
                    return .waiting
                }
            }
            if configuration.discard == .new {
                let summary = log.summary
                if configuration.maxMessages >= 0
                    && summary.messages + state.inFlightMessages >= configuration.maxMessages
                {
                    return .refuse(.refused(10077, "maximum messages exceeded"))
                }
                if configuration.maxBytes >= 0 && summary.bytes + state.inFlightBytes + size > configuration.maxBytes {
                    return .refuse(.refused(10078, "maximum bytes exceeded"))
                }
            }
            if let id { state.storing[id] = [] }
            state.inFlightMessages += 1
            state.inFlightBytes += size
            return .store
        }
        switch admission {
        case .duplicate(let sequence):
            completion(.success(Acknowledgement(stream: name, sequence: sequence, duplicate: true)))
            return
        case .refuse(let error):
            completion(.failure(error))
            return
        case .waiting:
            return
        case .store:
            break
        }
        log.append(subject: subject, headers: headers, payload: payload, time: now) { [self] stored in
            let outcome = stored.mapError { MessageStreamError.system("\($0)") }
            let waiting = state.withLock { state -> [@Sendable (Result<UInt64, MessageStreamError>) -> Void] in
                state.inFlightMessages -= 1
                state.inFlightBytes -= size
                guard let id else { return [] }
                if case .success(let sequence) = outcome { state.recent[id] = (sequence, now) }
                return state.storing.removeValue(forKey: id) ?? []
            }
            completion(outcome.map { Acknowledgement(stream: name, sequence: $0, duplicate: false) })
            if case .success = outcome { self.stored.notify() }
            for waiter in waiting { waiter(outcome) }
            if enforcingLimits, case .success = outcome { scheduleLimits(now: now) }
        }
    }

    /// Whether any limit can ever remove a message: most streams have none, and their publishes skip the work.
    private var isLimited: Bool {
        (configuration.discard == .old && (configuration.maxMessages >= 0 || configuration.maxBytes >= 0))
            || configuration.maxAge > 0
    }

    /// Applies the limits after stored publishes: one task at a time, however many publishes a commit answers
    /// (a task per publish woke a pool thread per message, which cost more than storing it).
    private func scheduleLimits(now: Int64) {
        guard isLimited else { return }
        let start = state.withLock { state -> Bool in
            state.limitsNow = max(state.limitsNow, now)
            if state.limitsRunning {
                state.limitsAgain = true
                return false
            }
            state.limitsRunning = true
            return true
        }
        guard start else { return }
        Task {
            var at = now
            while true {
                await enforceLimits(now: at)
                let again = state.withLock { state -> Int64? in
                    guard state.limitsAgain else {
                        state.limitsRunning = false
                        return nil
                    }
                    state.limitsAgain = false
                    return state.limitsNow
                }
                guard let next = again else { return }
                at = next
            }
        }
    }

    /// Removes what the message, byte and age limits no longer allow, oldest first (`discard: old`, and age
    /// whatever `discard` says). The broker also calls it on a timer, so that age applies to a quiet stream.
    public func enforceLimits(now: Int64) async {
        guard isLimited else { return }
        while true {
            let summary = log.summary
            guard summary.messages > 0, let first = log.firstSequence else { return }
            var remove = false
            if configuration.discard == .old {
                remove =
                    (configuration.maxMessages >= 0 && summary.messages > configuration.maxMessages)
                    || (configuration.maxBytes >= 0 && summary.bytes > configuration.maxBytes)
            }
            if !remove && configuration.maxAge > 0, let oldest = try? log.message(first) {
                remove = oldest.time < now - configuration.maxAge
            }
            guard remove else { return }
            guard (try? await log.delete(first)) == true else { return }
        }
    }

    /// The value of the `Nats-Msg-Id` header in a NATS header block, if any.
    static func messageID(_ headers: [UInt8]) -> String? {
        // Most headers name no id (a queued call's carry only its call id): a byte scan says so without making
        // strings of every line, which cost 3 % of the daemon's CPU when every publish did it.
        guard !headers.isEmpty, mentionsMessageID(headers) else { return nil }
        for line in String(decoding: headers, as: UTF8.self).split(separator: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if String(line[..<colon]).trimmingSpaces().lowercased() == "nats-msg-id" {
                let value = String(line[line.index(after: colon)...]).trimmingSpaces()
                return value.isEmpty ? nil : value
            }
        }
        return nil
    }
}

/// Whether `nats-msg-id` appears anywhere in the bytes, in any case.
private func mentionsMessageID(_ bytes: [UInt8]) -> Bool {
    let needle = Array("nats-msg-id".utf8)
    guard bytes.count >= needle.count else { return false }
    for start in 0...(bytes.count - needle.count) {
        var index = 0
        while index < needle.count, bytes[start + index] | 0x20 == needle[index] { index += 1 }
        if index == needle.count { return true }
    }
    return false
}

public enum MessageStreamError: Error, Equatable, CustomStringConvertible {
    /// The configuration cannot be a stream (JetStream's words).
    case invalid(String)
    /// A publish a limit refuses, with JetStream's error code and words.
    case refused(Int, String)
    /// The disk or the system failed; nothing was acknowledged.
    case system(String)

    public var description: String {
        switch self {
        case .invalid(let message), .system(let message): message
        case .refused(_, let message): message
        }
    }
}
