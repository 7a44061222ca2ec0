import Foundation
import SkiffPOSIX

/// Writes an executable script that this process (or a child) will exec. The file is written by a child
/// process (`install`), never through a descriptor of this process: while this process holds a file open for
/// writing, any child it forks at that moment inherits the descriptor, and exec of the file fails with "Text file
/// busy" until that child has exec'd too. Parallel tests fork all the time.
public func writeExecutable(_ text: String, to path: String) async throws {
    let staging = path + ".txt"
    try text.write(toFile: staging, atomically: true, encoding: .utf8)
    defer { unlink(staging) }
    _ = try await ChildProcess("/usr/bin/install", ["-m", "755", staging, path]).runChecked()
}
