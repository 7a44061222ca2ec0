/// The buffer a loop's connections read into, one per loop and per server or pool: a connection keeps bytes of
/// its own only when a message is incomplete. Loop thread only.
public final class ReadBuffer {
    public let bytes: UnsafeMutableRawBufferPointer

    public init(byteCount: Int = 64 * 1024) {
        bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: byteCount, alignment: 16)
    }

    deinit { bytes.deallocate() }
}
