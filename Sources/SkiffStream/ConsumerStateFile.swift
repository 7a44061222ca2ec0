import Foundation
import SkiffPOSIX
import Synchronization

/// What a consumer has delivered, kept so that a restart neither delivers again what was acknowledged (a stream
/// with `limits` retention keeps acknowledged messages) nor forgets how often a message was tried (`max_deliver`).
struct ConsumerSnapshot: Codable, Equatable {
    /// The highest stream sequence delivered for the first time.
    var cursor: UInt64
    /// Consumer sequence of the last delivery.
    var deliveries: UInt64
    var redelivered: Int
    /// Deliveries waiting for their ack: stream sequence, how often it was delivered, and flags (1: NAK'd, 2:
    /// started).
    var pending: [[UInt64]]

    /// The JSON `JSONEncoder` writes for it, by hand: the snapshot is written at every dispatch of the queue
    /// worker, with up to a thousand deliveries waiting, and the encoder took half of the daemon's CPU there.
    func json() -> [UInt8] {
        var out = Array(#"{"cursor":\#(cursor),"deliveries":\#(deliveries),"#.utf8)
        out += Array(#""redelivered":\#(redelivered),"pending":["#.utf8)
        out.reserveCapacity(out.count + pending.count * 24 + 2)
        for (index, entry) in pending.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "["))
            for (position, value) in entry.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                out += Array(String(value).utf8)
            }
            out.append(UInt8(ascii: "]"))
        }
        out += Array("]}".utf8)
        return out
    }
}

/// Writes a consumer's snapshot durably on a thread of its own. Changes made while a write runs are carried by
/// the next one (however many there were); a caller that must not answer before its change is on disk waits for
/// the write that carries it. After ``retire()`` nothing is written any more, so a deleted consumer's file stays
/// deleted.
final class ConsumerStateFile: Sendable {
    let path: String
    /// The consumer's state now, and the version of it (raised by every change); nil once the consumer is gone.
    private let source = Mutex<(@Sendable () -> (version: UInt64, bytes: [UInt8])?)?>(nil)
    private let state = Mutex(State())
    /// Held for each write and by `retire`, so that no write can land after the file was removed.
    private let writing = Mutex(false)

    private struct State {
        var running = false
        var again = false
        var written: UInt64 = 0
        var waiters: [(version: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
    }

    init(path: String) {
        self.path = path
    }

    /// Where the state to write comes from (set once its consumer exists).
    func attach(_ snapshot: @escaping @Sendable () -> (version: UInt64, bytes: [UInt8])?) {
        source.withLock { $0 = snapshot }
    }

    /// Reads a snapshot written before; nil when there is none (a new consumer) or it cannot be read.
    static func read(_ path: String) -> ConsumerSnapshot? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(ConsumerSnapshot.self, from: data)
    }

    /// The consumer changed: write it soon.
    func changed() {
        let start = state.withLock { state -> Bool in
            if state.running {
                state.again = true
                return false
            }
            state.running = true
            return true
        }
        guard start else { return }
        do {
            _ = try PosixThread(name: "skiff-consumer") { [self] in writeUntilCurrent() }
        } catch {
            // No thread, no durability: nobody is kept waiting for it (a restart delivers these again); the next
            // change tries again.
            let waiting = state.withLock { state in
                state.running = false
                defer { state.waiters = [] }
                return state.waiters.map(\.continuation)
            }
            for continuation in waiting { continuation.resume() }
        }
    }

    /// Returns once a write has carried `version` (or the file is retired, or writing failed).
    func written(atLeast version: UInt64) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                guard state.written < version else { return true }
                state.waiters.append((version, continuation))
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// No more writes, from now on; then the caller may remove the file.
    func retire() {
        writing.withLock { $0 = true }
        let waiting = state.withLock { state in
            state.written = .max
            defer { state.waiters = [] }
            return state.waiters.map(\.continuation)
        }
        for continuation in waiting { continuation.resume() }
    }

    private func writeUntilCurrent() {
        while true {
            state.withLock { $0.again = false }
            guard let (version, bytes) = source.withLock({ $0 })?() else {
                state.withLock { $0.running = false }
                return
            }
            // A failed write releases its waiters too: what they wait for is then not durable, and a restart
            // delivers it again, which a work queue's consumers must expect anyway.
            writing.withLock { retired in
                if !retired { try? DurableFile.write(bytes, to: path) }
            }
            let (due, again) = state.withLock { state -> ([CheckedContinuation<Void, Never>], Bool) in
                state.written = max(state.written, version)
                let due = state.waiters.filter { $0.version <= state.written }.map(\.continuation)
                state.waiters.removeAll { $0.version <= state.written }
                if !state.again { state.running = false }
                return (due, state.again)
            }
            for continuation in due { continuation.resume() }
            guard again else { return }
        }
    }
}
