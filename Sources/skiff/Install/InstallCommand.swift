import Foundation
import SkiffBuild
import SkiffGateway
import SkiffRuntime

/// `skiff install`: everything the appliance needs on this machine, idempotently; upgrades in place.
enum InstallCommand: ClientCommand {
    static let usage = "skiff install [--root DIR] [--no-start]"
    static let summary = """
        Installs Skiff: binaries in /usr/local/bin, templates in /usr/local/share/skiff, the state folder and the \
        admin password (generated once, 0600, never overwritten), /etc/skiff/skiff.conf (when absent), the CNI \
        conflist, IPv4 forwarding (now and persisted), the systemd unit; then enables containerd and starts Skiff. \
        Running it again upgrades in place: state, password and running functions are kept. With --root DIR it \
        installs into that tree and touches nothing outside it (no sysctl, no systemctl).
        """
    static let options: [Arguments.Option] = [
        .value("--root", name: "DIR", help: "install into this folder tree instead of /"),
        .flag("--no-start", help: "write everything but do not enable or start services"),
    ]

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        guard let installation = Installation.chosen(by: arguments, verb: "install") else { return 1 }
        var report: [(Installation.Change, String)] = []
        func note(_ change: Installation.Change, _ path: String) { report.append((change, path)) }

        // Binaries: this one and the watchdog beside it.
        let executable = ThisBinary.path
        let binDirectory = ThisBinary.directory
        for name in ["skiff", "skiff-watchdog"] {
            let source = binDirectory + "/" + name
            guard let data = FileManager.default.contents(atPath: source) else {
                throw InstallError("\(source) is missing; build with `swift build -c release` or unpack the release")
            }
            let target = installation.binDirectory + "/" + name
            note(try Installation.put(Array(data), at: target, mode: 0o755), target)
        }
        // Templates, the README and docs/, from wherever this binary finds them.
        let locator = TemplateLocator(environment: context.environment, executable: executable)
        if let templates = try? locator.directory() {
            note(
                try Installation.replaceTree(templates, with: installation.templatesDirectory),
                installation.templatesDirectory)
            let top = URL(fileURLWithPath: templates).deletingLastPathComponent()
            if let text = FileManager.default.contents(atPath: top.appendingPathComponent("README.md").path) {
                note(
                    try Installation.put(Array(text), at: installation.documentation, mode: 0o644),
                    installation.documentation)
            }
            let documents = top.appendingPathComponent("docs").path
            if FileManager.default.fileExists(atPath: documents) {
                note(try Installation.replaceTree(documents, with: installation.documents), installation.documents)
            }
        }
        // Settings: written once, then the operator's.
        if FileManager.default.fileExists(atPath: installation.configFile) {
            note(.kept, installation.configFile)
        } else {
            note(
                try Installation.put(Array(defaultConfig.utf8), at: installation.configFile, mode: 0o644),
                installation.configFile)
        }
        let options = try installation.serveOptions()
        // State and the admin password.
        let state = try installation.stateDirectory
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        chmod(state, 0o755)
        let passwordFile = state + "/secrets/basic-auth-password"
        let hadPassword = FileManager.default.fileExists(atPath: passwordFile)
        _ = try Credentials.loadOrCreate(stateDirectory: state)
        note(hadPassword ? .kept : .written, passwordFile)
        // The functions' network, described for CNI tools; and forwarding, without which functions reach nothing.
        var runtime = RuntimeConfiguration(stateDirectory: options.stateDirectory, logCollector: "")
        runtime.bridgeName = options.bridge
        runtime.subnet = options.subnet
        runtime.cniPluginDirectory = options.cniDirectory
        note(
            try Installation.put(try runtime.cniConflist(), at: installation.cniConflist, mode: 0o644),
            installation.cniConflist)
        note(
            try Installation.put(
                Array(
                    "# Functions on Skiff's bridge reach beyond this host through forwarding.\nnet.ipv4.ip_forward = 1\n"
                        .utf8),
                at: installation.sysctlFile, mode: 0o644), installation.sysctlFile)
        // The unit, pointing at the installed binary (as seen from inside the tree).
        let unit = SystemdUnit.text(binary: "/usr/local/bin/skiff") + "\n"
        note(try Installation.put(Array(unit.utf8), at: installation.unit, mode: 0o644), installation.unit)

        Installation.printReport(report)
        let port = options.listen.split(separator: ":").last.map(String.init) ?? "8080"
        let loginLines = """
              export OPENFAAS_URL=http://127.0.0.1:\(port)
              sudo cat \(options.stateDirectory)/secrets/basic-auth-password | skiff login --password-stdin
              sudo cat \(options.stateDirectory)/secrets/basic-auth-password | faas-cli login --password-stdin
            """
        if !installation.isSystem {
            print(
                "installed into \(installation.root); nothing outside it was touched. Once it runs, log in with:\n\(loginLines)"
            )
            return 0
        }
        if !(await Installation.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"])) {
            Console.error("skiff install: could not turn on IPv4 forwarding now (sysctl); it is on after a reboot")
        }
        var started = false
        if arguments.isSet("--no-start") {
            print("not started (--no-start): systemctl enable --now containerd skiff")
        } else if !Installation.systemdIsRunning {
            print("systemd is not running on this machine, so nothing was enabled; start the daemon with `skiff serve`")
        } else {
            _ = await Installation.run(["systemctl", "daemon-reload"])
            if !(await Installation.run(["systemctl", "enable", "--now", "containerd"])) {
                Console.error("skiff install: could not enable containerd; is it installed (apt install containerd)?")
                return 1
            }
            // restart, not start: an upgrade must load the new binary. Functions keep running (see the unit).
            guard await Installation.run(["systemctl", "enable", "skiff"]),
                await Installation.run(["systemctl", "restart", "skiff"])
            else {
                Console.error("skiff install: skiff did not start; see journalctl -u skiff")
                return 1
            }
            started = true
        }
        print(
            "\nSkiff is installed\(started ? " and running" : ""). Log in (the password stays the same across "
                + "upgrades):\n\(loginLines)")
        return 0
    }

    static var defaultConfig: String {
        var text = """
            # skiff serve settings: `key = value` lines. Environment variables (SKIFF_KEY) and flags win over this
            # file. Restart after a change: systemctl restart skiff (functions keep running).

            """
        let defaults = ServeOptions()
        for setting in ServeOptions.settings {
            text += "# \(setting.help)\n# \(setting.key) = \(defaults[keyPath: setting.path])\n"
        }
        return text
    }
}
