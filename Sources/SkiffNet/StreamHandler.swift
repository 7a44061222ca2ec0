import SkiffPOSIX

/// A protocol's side of a ``StreamConnection``: HTTP's server and client connections today, the NATS broker's
/// next. The connection moves bytes; the handler gives them meaning. Every call is on the connection's loop, and
/// none comes after the connection has closed.
public protocol StreamHandler: AnyObject {
    /// Parses `input` (kept bytes first, then new ones); returns how many bytes it consumed. Bytes it does not
    /// consume are kept (when ``keepsLeftover`` says so) and offered again with the next ones.
    func process(_ input: UnsafeBufferPointer<UInt8>) -> Int
    /// Bytes are about to be processed; return false to drop them (while lingering before a close).
    func bytesArriving() -> Bool
    /// Whether unconsumed bytes are kept for later (not when the protocol is finishing the connection).
    var keepsLeftover: Bool { get }
    /// Unconsumed bytes were kept in ``StreamConnection/pending``: the protocol may stop reading.
    func leftoverKept()
    /// The peer closed its sending side (a read returned 0).
    func peerClosed()
    /// Reading failed (ECONNRESET and the like), or the socket reported an error while reading was paused.
    func readFailed(_ error: SystemError)
    /// Writing failed; the handler closes and fails whatever waits.
    func writeFailed(_ error: SystemError)
    /// Everything queued has been written.
    func outputDrained()
    /// A connect begun by ``StreamConnection/connect(to:networkNamespace:loop:)`` finished: `errno` is 0 on success.
    func connectFinished(errno: Int32)
}

extension StreamHandler {
    public func bytesArriving() -> Bool { true }
    public var keepsLeftover: Bool { true }
    public func leftoverKept() {}
    public func outputDrained() {}
    public func connectFinished(errno: Int32) {}
}
