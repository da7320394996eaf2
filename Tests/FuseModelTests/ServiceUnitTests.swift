import FuseModel
import Testing

@Suite struct ServiceUnitTests {
    @Test func theNodeDaemonsUnitForTheDefaultStateDir() {
        let unit = ServiceUnit(role: .agent, executable: "/usr/bin/fuse", stateDir: "/var/lib/fuse")
        #expect(unit.name == "fuse-agent.service")
        #expect(unit.text == """
            # `fuse join` installs and enables this unit; `fuse leave` disables and removes it.
            [Unit]
            Description=FUSE node daemon for /var/lib/fuse
            Documentation=man:fuse(1)
            Wants=network-online.target
            # The host's own Docker (if any) rewrites its firewall chains when it starts: come up after it.
            After=network-online.target docker.service

            [Service]
            Type=simple
            ExecStart=/usr/bin/fuse agent run --state-dir /var/lib/fuse
            Restart=on-failure
            RestartSec=1s
            # The daemon's wireguard-go and container engine outlive a restart of the daemon, so that
            # tunnels and containers stay up while it restarts; `fuse leave` removes them.
            KillMode=process
            TimeoutStopSec=30s
            # Hardening that the node's own container engine tolerates: a mount, seccomp or
            # capability restriction here would be inherited by every container it runs.
            Delegate=yes
            TasksMax=infinity
            LimitNOFILE=1048576
            OOMScoreAdjust=-500
            UMask=0022

            [Install]
            WantedBy=multi-user.target

            """)
    }

    @Test func theMastersUnitRunsTheMasterAndCarriesFUSESettings() {
        let unit = ServiceUnit(role: .master, executable: "/opt/fuse dir/fuse", stateDir: "/var/lib/fuse/",
                               environment: ["FUSE_WIREGUARD_GO": "/opt/wg/wireguard-go", "FUSE_WIREGUARD": "userspace"])
        #expect(unit.name == "fuse-master.service")
        #expect(unit.text.contains("\nEnvironment=FUSE_WIREGUARD=userspace\nEnvironment=FUSE_WIREGUARD_GO=/opt/wg/wireguard-go\nExecStart=\"/opt/fuse dir/fuse\" master run --state-dir /var/lib/fuse/\n"))
        #expect(unit.text.contains("Description=FUSE master (control plane and hub) for /var/lib/fuse/\n"))
        #expect(unit.text.hasPrefix("# `fuse master start` installs and enables this unit; `fuse master stop|destroy` disables and removes it.\n"))
    }

    @Test func otherStateDirsGetTheirPathEscapedAsSystemdDoes() {
        // As `systemd-escape --path` prints them.
        #expect(ServiceUnit(role: .agent, executable: "/usr/bin/fuse", stateDir: "/srv/lab/a1").name == "fuse-agent-srv-lab-a1.service")
        #expect(ServiceUnit(role: .agent, executable: "/usr/bin/fuse", stateDir: "/srv/my node/.x-y").name == "fuse-agent-srv-my\\x20node-.x\\x2dy.service")
        #expect(ServiceUnit(role: .master, executable: "/usr/bin/fuse", stateDir: "/").name == "fuse-master--.service")
    }

    @Test func percentAndDollarAreLiteral() {
        let unit = ServiceUnit(role: .agent, executable: "/usr/bin/fuse", stateDir: "/srv/100%$x")
        #expect(unit.text.contains("ExecStart=/usr/bin/fuse agent run --state-dir /srv/100%%$$x\n"))
    }
}
