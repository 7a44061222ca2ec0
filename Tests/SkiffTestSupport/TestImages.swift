import Foundation
import SkiffImage

/// Function images built on the spot from the host's busybox-static: no registry, no Docker. The HTTP server
/// is busybox httpd on port 8080; a CGI script reports what the function sees from inside its container.
public enum TestImages {
    /// `sh` as PID 1 with handlers, so SIGTERM stops it promptly and SIGUSR1 makes it exit 7 (a crash).
    public static let serve =
        "trap 'exit 0' TERM; trap 'exit 7' USR1; echo booting $HOSTNAME; httpd -f -p 8080 -h /www & wait; wait"

    public static let infoScript = """
        #!/bin/sh
        # `slow` answers nothing at all for 5 s (not even headers), like a function that computes; `hold` never
        # answers (until its replica is stopped), for timeouts that must fire however late timers run.
        [ "$QUERY_STRING" = slow ] && sleep 5
        [ "$QUERY_STRING" = hold ] && while :; do sleep 1; done
        # `gated` waits while the gate (a file in the replica's /tmp) is closed: `gate-close` and `gate-open`.
        [ "$QUERY_STRING" = gated ] && while [ -e /tmp/gate ]; do sleep 0.2; done
        echo "Content-Type: text/plain"
        echo ""
        case "$QUERY_STRING" in
        hostname) hostname ;;
        id) id -u; id -g ;;
        env) env ;;
        hosts) cat /etc/hosts ;;
        secret=*) cat "/var/openfaas/secrets/${QUERY_STRING#secret=}" ;;
        rootfs) touch /written 2>/dev/null && echo root-writable || echo root-read-only; touch /tmp/x && echo tmp-writable ;;
        caps) grep -E '^Cap(Bnd|Eff)' /proc/self/status ;;
        sandbox) grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; unshare -U true 2>/dev/null && echo unshare-allowed || echo unshare-denied; mount -t tmpfs none /tmp 2>/dev/null && echo mount-allowed || echo mount-denied; cat /proc/self/oom_score_adj ;;
        log=*) echo "${QUERY_STRING#log=}" > /proc/1/fd/1; echo logged ;;
        crash) kill -USR1 1; echo crashing ;;
        body) cat ;;
        sha) sha256sum ;;
        whoami) head -1 /proc/self/cgroup ;;
        headers) env | grep '^HTTP_' | sort ;;
        peer) echo "$REMOTE_ADDR" | sed -e 's/^\\[::ffff://' -e 's/]$//' ;;
        slow) echo late ;;
        gated) echo passed ;;
        gate-close) touch /tmp/gate && echo closed ;;
        gate-open) rm -f /tmp/gate && echo open ;;
        record) echo "$HTTP_X_CALL_ID" >> /tmp/calls && echo recorded ;;
        recorded) cat /tmp/calls 2>/dev/null ;;
        stream) for i in 1 2 3 4; do echo "line $i"; [ $i = 4 ] || sleep 1; done ;;
        esac
        """

    /// An OCI archive of a busybox image; `command` replaces the default server when given.
    /// With `echoRoot`, `/` is a CGI script that answers every method with the request body (as OpenFaaS's
    /// `cat` functions do) instead of serving index.html.
    /// `randomBytes` adds `/random`, that many random bytes: an image whose layer no other image shares.
    /// `metrics` is served as `/metrics` on port 8081, where a watchdog serves its metrics.
    public static func archive(
        reference: String, command: [String]? = nil, user: String? = nil, echoRoot: Bool = false,
        randomBytes: Int = 0, metrics: String? = nil
    ) throws -> [UInt8] {
        var files: [TarWriter.Entry] = [
            .init(path: "www", kind: .directory),
            .init(path: "www/cgi-bin", kind: .directory),
            .init(path: "www/cgi-bin/info", kind: .file(Array(infoScript.utf8)), mode: 0o755),
        ]
        if echoRoot {
            let echo = "#!/bin/sh\necho \"Content-Type: text/plain\"\necho \"\"\ncat\n"
            files.append(.init(path: "www/cgi-bin/index.cgi", kind: .file(Array(echo.utf8)), mode: 0o755))
        } else {
            files.append(.init(path: "www/index.html", kind: .file(Array("hello from skiff\n".utf8))))
        }
        if randomBytes > 0 {
            var generator = SystemRandomNumberGenerator()
            let noise = (0..<(randomBytes + 7) / 8).flatMap { _ in withUnsafeBytes(of: generator.next()) { Array($0) } }
            files.append(.init(path: "random", kind: .file(Array(noise.prefix(randomBytes)))))
        }
        var serve = self.serve
        if let metrics {
            files.append(.init(path: "exporter", kind: .directory))
            files.append(.init(path: "exporter/metrics", kind: .file(Array(metrics.utf8))))
            serve = "httpd -p 8081 -h /exporter; " + serve
        }
        let layer = try BusyboxLayer.make(
            applets: BusyboxLayer.commonApplets + ["ip", "awk", "unshare", "mount"], files: files)
        let config = ImageConfiguration.RunConfig(
            user: user, env: ["PATH=/bin"], cmd: command ?? ["/bin/sh", "-c", serve], workingDir: "/")
        return try OCIArchive(
            reference: try ImageReference(parsing: reference), config: config, layers: [layer]
        ).bytes
    }

    /// Writes the archive to a temporary file and returns its path.
    public static func file(
        reference: String, command: [String]? = nil, user: String? = nil, echoRoot: Bool = false,
        randomBytes: Int = 0, metrics: String? = nil
    ) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-image-\(UUID()).tar").path
        let bytes = try archive(
            reference: reference, command: command, user: user, echoRoot: echoRoot, randomBytes: randomBytes,
            metrics: metrics)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}
