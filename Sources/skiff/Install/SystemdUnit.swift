/// The unit `skiff install` writes: the text of systemd/skiff.service in the source tree (a test keeps the two
/// identical), so that an installed binary needs no file beside it to install itself.
enum SystemdUnit {
    static let text = #"""
        # Skiff: the OpenFaaS-compatible gateway and function runtime, as a systemd service.
        # Installed by `skiff install` (which writes this file with the installed binary's path).
        [Unit]
        Description=Skiff serverless appliance (OpenFaaS-compatible gateway and function runtime)
        Documentation=file:/usr/local/share/doc/skiff/README.md
        # Functions are containerd containers on a CNI bridge: containerd first, and the network up before the
        # gateway listens on it.
        Wants=network-online.target containerd.service
        After=network-online.target containerd.service

        [Service]
        # READY=1 is sent once the gateway listens and the functions have been reconciled with containerd.
        Type=notify
        NotifyAccess=main
        ExecStart=/usr/local/bin/skiff serve
        # A hung daemon is restarted: it sends WATCHDOG=1 every half of this interval.
        WatchdogSec=30s
        Restart=on-failure
        RestartSec=2s
        TimeoutStartSec=180s
        TimeoutStopSec=45s
        # Function containers belong to containerd's shims, not to this service, so stopping or restarting Skiff never
        # touches them. "mixed" gives the daemon SIGTERM (it drains and sends STOPPING=1) and then reaps any ctr or
        # CNI helper it left running.
        KillMode=mixed
        # One descriptor per client connection plus one per proxied upstream connection.
        LimitNOFILE=1048576
        TasksMax=infinity
        Environment=SKIFF_STATE_DIR=/var/lib/skiff
        # Settings: /etc/skiff/skiff.conf (read by skiff serve itself), or SKIFF_* variables here.
        EnvironmentFile=-/etc/default/skiff
        # Hardening that leaves container management working. Options that give the service its own mount namespace
        # (ProtectSystem, ProtectHome, PrivateTmp, ReadWritePaths, …) are left out on purpose: Skiff mounts container
        # root filesystems and network namespaces that containerd and runc, outside this service, must see.
        # RestrictNamespaces is left out as well: the gateway enters functions' network namespaces (setns) to reach
        # them over their own loopback.
        NoNewPrivileges=yes
        LockPersonality=yes
        RestrictRealtime=yes
        SystemCallArchitectures=native
        RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
        OOMScoreAdjust=-500

        [Install]
        WantedBy=multi-user.target
        """#

    /// The unit with `ExecStart=` pointing at `binary`.
    static func text(binary: String) -> String {
        text.replacingOccurrences(of: "ExecStart=/usr/local/bin/skiff serve", with: "ExecStart=\(binary) serve")
    }
}
