import Foundation

/// `skiff uninstall`: the service, binaries, templates and system files go; state and settings stay unless
/// --purge.
enum UninstallCommand: ClientCommand {
    static let usage = "skiff uninstall [--root DIR] [--purge]"
    static let summary = """
        Stops and disables the service and removes what `skiff install` wrote. The state folder (functions, \
        secrets, the admin password) and /etc/skiff stay unless --purge. Function containers stay in containerd \
        until removed: run `skiff remove` for each before --purge. IPv4 forwarding is left on.
        """
    static let options: [Arguments.Option] = [
        .value("--root", name: "DIR", help: "uninstall from this folder tree instead of /"),
        .flag("--purge", help: "also delete the state folder and /etc/skiff"),
    ]

    static func run(_ arguments: Arguments, _ context: ClientContext) async throws -> Int32 {
        guard let installation = Installation.chosen(by: arguments, verb: "uninstall") else { return 1 }
        let state = try installation.stateDirectory
        if installation.isSystem && Installation.systemdIsRunning {
            _ = await Installation.run(["systemctl", "disable", "--now", "skiff"])
        }
        var report: [(Installation.Change, String)] = []
        for path in [
            installation.unit, installation.binDirectory + "/skiff", installation.binDirectory + "/skiff-watchdog",
            installation.shareDirectory, installation.documentationDirectory, installation.sysctlFile,
            installation.cniConflist,
        ] {
            report.append((Installation.remove(path), path))
        }
        if installation.isSystem && Installation.systemdIsRunning {
            _ = await Installation.run(["systemctl", "daemon-reload"])
        }
        if arguments.isSet("--purge") {
            report.append((Installation.remove(state), state))
            report.append((Installation.remove(installation.configDirectory), installation.configDirectory))
        } else {
            report.append((.kept, state))
            report.append((.kept, installation.configDirectory))
        }
        Installation.printReport(report)
        return 0
    }
}
