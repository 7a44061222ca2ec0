import SkiffNet
import SkiffPOSIX

/// The connection's side of the bodies: the request body's reader asking for more (and the `100 Continue` it
/// may owe), and the response body's writer, flushed with backpressure.
extension HTTPServerConnection {
    // MARK: ByteStreamSource

    func byteStreamWantsMore() {
        if transport.isReadPaused && exchange?.isResponseEnded != true { transport.setReadPaused(false) }
    }

    func byteStreamFirstRead() {
        guard var current = exchange, current.head.expectsContinue, !current.sentContinue, !current.isResponseStarted
        else { return }
        current.sentContinue = true
        exchange = current
        transport.out.bytes.append(contentsOf: WireEncoding.continueResponse)
        transport.requestFlush()
    }

    func byteStreamAbandoned() {}

    // MARK: HTTPBodySink

    func writeBody(_ bytes: ArraySlice<UInt8>, generation: UInt64) async throws {
        try await loop.onLoop { try await writeBodyOnLoop(bytes, generation: generation) }
    }

    private func writeBodyOnLoop(_ bytes: ArraySlice<UInt8>, generation: UInt64) async throws {
        guard generation == self.generation, phase != .closed, var current = exchange else {
            throw HTTPWriteError.connectionClosed
        }
        guard !current.isResponseEnded else { throw HTTPWriteError.responseEnded }
        current.written += bytes.count
        exchange = current
        if let declared = current.declaredLength, current.written > declared {
            throw HTTPWriteError.lengthMismatch(declared: declared, written: current.written)
        }
        if current.isHead || bytes.isEmpty { return }
        transport.out.appendBody(bytes, chunked: current.chunked)
        try await transport.flushOrWaitForDrain()
        if phase == .closed { throw HTTPWriteError.connectionClosed }
    }

    func flushBody(generation: UInt64) async throws {
        try await loop.onLoop {
            guard generation == self.generation, phase != .closed else { throw HTTPWriteError.connectionClosed }
            transport.flushOutput()
        }
    }
}
