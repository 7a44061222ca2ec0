import Glibc
import SkiffAPI
import SkiffPOSIX

/// SkiffPOSIX's ``DurableFile`` for the runtime's state, with failures as ``FunctionRuntimeError/system(_:)``
/// (what the gateway turns into a 500 that names the file).
enum StateFile {
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) throws(FunctionRuntimeError) {
        do {
            try DurableFile.write(bytes, to: path, mode: mode)
        } catch {
            throw .system("cannot write \(path): \(error)")
        }
    }

    static func rewriteInPlace(_ bytes: [UInt8], at path: String, mode: mode_t = 0o600) throws(FunctionRuntimeError) {
        do {
            try DurableFile.rewriteInPlace(bytes, at: path, mode: mode)
        } catch {
            throw .system("cannot write \(path): \(error)")
        }
    }
}
