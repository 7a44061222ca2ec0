import Foundation

/// A root filesystem layer made on the spot from the host's busybox-static (Debian's `busybox-static`): the
/// binary, applet symlinks, a world-writable /tmp (watchdog lock files), and /etc/passwd and /etc/group with root
/// and an unprivileged `app` user (uid 1000). The base of images built with no registry at all.
public enum BusyboxLayer {
    public static let defaultBinary = "/bin/busybox"

    public static let commonApplets = [
        "sh", "cat", "ls", "id", "hostname", "sleep", "echo", "env", "grep", "touch", "kill", "wc", "head", "true",
        "printf", "test", "[", "httpd", "mkdir", "rm", "sed", "tr", "date", "sha256sum", "sort", "cut",
    ]

    /// - Parameter files: extra entries, written after the base ones (directories they need must be listed).
    public static func make(
        busybox: String = defaultBinary, applets: [String] = commonApplets, files: [TarWriter.Entry] = []
    ) throws -> [UInt8] {
        guard let binary = FileManager.default.contents(atPath: busybox) else {
            throw BusyboxMissing(path: busybox)
        }
        var tar = TarWriter()
        for directory in ["bin", "etc", "tmp", "var"] {
            tar.append(.init(path: directory, kind: .directory, mode: directory == "tmp" ? 0o1777 : 0o755))
        }
        tar.append(.init(path: "bin/busybox", kind: .file(Array(binary)), mode: 0o755))
        for applet in applets.sorted() { tar.append(.init(path: "bin/\(applet)", kind: .symlink(target: "busybox"))) }
        tar.append(
            .init(
                path: "etc/passwd",
                kind: .file(Array("root:x:0:0:root:/:/bin/sh\napp:x:1000:1000:app:/:/bin/sh\n".utf8))))
        tar.append(.init(path: "etc/group", kind: .file(Array("root:x:0:\napp:x:1000:\n".utf8))))
        for file in files { tar.append(file) }
        return tar.finish()
    }

    public struct BusyboxMissing: Error, CustomStringConvertible {
        public let path: String
        public var description: String {
            "\(path) not found; install Debian's busybox-static (apt install busybox-static)"
        }
    }
}
