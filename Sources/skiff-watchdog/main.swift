// skiff-watchdog: the function's HTTP server inside its image, on port 8080, a drop-in for OpenFaaS's classic
// watchdog (fork a process per request) and of-watchdog's http mode (proxy to one long-lived process).
// Configured by the same environment variables; see WatchdogSettings.swift. Linked fully static, so an image
// needs nothing else (busybox-static images have no libc at all).
import Glibc
import SkiffHTTP
import SkiffPOSIX

if CommandLine.arguments.contains("-version") || CommandLine.arguments.contains("--version") {
    print("skiff-watchdog version: \(WatchdogVersion.release)")
    exit(0)
}
if CommandLine.arguments.contains("-run-healthcheck") {
    if FileSystem.exists(WatchdogSettings.lockPath()) { exit(0) }
    print("unable to find lock file.")
    exit(1)
}

BrokenPipes.ignore()
let settings: WatchdogSettings
do {
    settings = try WatchdogSettings(environment: WatchdogSettings.processEnvironment())
} catch {
    WatchdogLog.line("skiff-watchdog: \(error)")
    exit(2)
}
exit(await Watchdog(settings: settings).run())
