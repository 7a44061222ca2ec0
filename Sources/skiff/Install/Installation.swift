import Foundation
import Glibc
import SkiffBuild
import SkiffGateway
import SkiffImage
import SkiffPOSIX

/// Where an installation puts things, below `root` ("" for the machine itself, a folder with `--root`).
struct Installation {
    let root: String
    var isSystem: Bool { root.isEmpty }

    var binDirectory: String { root + "/usr/local/bin" }
    var shareDirectory: String { root + "/usr/local/share/skiff" }
    var templatesDirectory: String { shareDirectory + "/templates" }
    var documentationDirectory: String { root + "/usr/local/share/doc/skiff" }
    var documentation: String { documentationDirectory + "/README.md" }
    /// The reference the README links to (`docs/…`), kept beside it so the links work where it is installed.
    var documents: String { documentationDirectory + "/docs" }
    var unit: String { root + "/etc/systemd/system/skiff.service" }
    var configDirectory: String { root + "/etc/skiff" }
    var configFile: String { configDirectory + "/skiff.conf" }
    var sysctlFile: String { root + "/etc/sysctl.d/60-skiff.conf" }
    var cniConflist: String { root + "/etc/cni/net.d/10-skiff.conflist" }

    /// `skiff serve`'s settings as the installed config file gives them (defaults otherwise).
    func serveOptions() throws -> ServeOptions {
        try ServeOptions.parse(
            [], environment: ["SKIFF_CONFIG": configFile],
            readFile: { try? String(contentsOfFile: $0, encoding: .utf8) })
    }

    var stateDirectory: String {
        get throws { root + (try serveOptions().stateDirectory) }
    }

    /// What happened to one path, for the report.
    enum Change: String {
        case written, unchanged, kept, removed, absent
    }

    /// The installation `skiff VERB` works on: the tree `--root DIR` names, else the machine itself, which
    /// needs root. Nil, with what to do printed, when the machine's is asked for without root.
    static func chosen(by arguments: Arguments, verb: String) -> Installation? {
        let root = arguments.value("--root").map { URL(fileURLWithPath: $0).standardized.path } ?? ""
        let installation = Installation(root: root)
        if installation.isSystem && getuid() != 0 {
            Console.error("skiff \(verb): run it as root (sudo skiff \(verb)), or on a folder tree with --root DIR")
            return nil
        }
        return installation
    }

    /// One line per path: what happened to it.
    static func printReport(_ report: [(Change, String)]) {
        for (change, path) in report {
            print("  \(change.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)) \(path)")
        }
    }

    /// Writes `bytes` durably through a rename (a running binary can be replaced this way), only when the
    /// content or mode differs.
    @discardableResult
    static func put(_ bytes: [UInt8], at path: String, mode: mode_t) throws -> Change {
        let manager = FileManager.default
        if let existing = manager.contents(atPath: path), Array(existing) == bytes,
            let attributes = try? manager.attributesOfItem(atPath: path),
            (attributes[.posixPermissions] as? NSNumber)?.uint16Value == UInt16(mode)
        {
            return .unchanged
        }
        do {
            try DurableFile.write(bytes, to: path, mode: mode)
        } catch {
            throw InstallError("cannot write \(path): \(error); are you root?")
        }
        return .written
    }

    static func remove(_ path: String) -> Change {
        guard FileManager.default.fileExists(atPath: path) else { return .absent }
        return (try? FileManager.default.removeItem(atPath: path)) == nil ? .kept : .removed
    }

    /// Copies a folder tree (templates), replacing what was there.
    static func replaceTree(_ source: String, with destination: String) throws -> Change {
        let manager = FileManager.default
        if URL(fileURLWithPath: source).standardized.path == URL(fileURLWithPath: destination).standardized.path {
            return .unchanged
        }
        if manager.fileExists(atPath: destination), let old = try? treeImage(destination),
            let new = try? treeImage(source), old == new
        {
            return .unchanged
        }
        try manager.createDirectory(
            atPath: (destination as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let staging = destination + ".skiff-new"
        try? manager.removeItem(atPath: staging)
        try manager.copyItem(atPath: source, toPath: staging)
        try? manager.removeItem(atPath: destination)
        try manager.moveItem(atPath: staging, toPath: destination)
        return .written
    }

    /// A tree's paths, contents and executable bits as one byte string, to tell whether two trees are the same.
    private static func treeImage(_ path: String) throws -> [UInt8] {
        var layer = DirectoryLayer()
        try layer.addTree(from: path, to: "tree")
        return layer.tar()
    }

    /// A command run for its effect during a system install (systemctl, sysctl); false when it failed, with its
    /// own words on standard error.
    static func run(_ command: [String]) async -> Bool {
        let executable = ["/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/"].map { $0 + command[0] }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let executable else { return false }
        guard
            let outcome = try? await ChildProcess(executable, Array(command.dropFirst()), timeout: .seconds(120)).run()
        else { return false }
        if !outcome.succeeded { Console.error(outcome.errorText.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return outcome.succeeded
    }

    /// Whether systemd manages this machine (PID 1 is systemd), so that systemctl can take over.
    static var systemdIsRunning: Bool { FileManager.default.fileExists(atPath: "/run/systemd/system") }
}

struct InstallError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
