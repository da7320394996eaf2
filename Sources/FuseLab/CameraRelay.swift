import Foundation
import FuseSystem

/// The camera relay: a container that a company deploys with `fuse deploy` on its own nodes.
/// It reads its cameras over the company's LAN (which only its own nodes reach) and pushes each
/// stream, byte for byte (no re-encoding), to the master's ingest over the federation:
/// `PUT https://MASTER_VPN:API_PORT/v1/streams/DOMAIN/CAMERA` with a chunked body. The master
/// knows the pushing node by its VPN address (WireGuard binds it to the node's key) and takes
/// only streams of that node's domain. The connection stays inside the WireGuard tunnel to the
/// master's VPN address, which only the hub can answer; `curl -k` therefore does not check the
/// certificate (the image carries no federation-specific CA), as the registry runs plain HTTP
/// inside the tunnel.
public enum CameraRelay {
    public static let image = "camera-relay:1"

    /// `relay MASTER:PORT DOMAIN NAME=URL...`: one loop per camera; a camera or master that
    /// goes away is retried every second.
    public static let script = """
        #!/bin/sh
        # relay MASTER:PORT DOMAIN CAMERA=URL... - push each camera's stream to the dashboard, unchanged
        [ $# -ge 3 ] || { echo "usage: relay MASTER:PORT DOMAIN CAMERA=URL..." >&2; exit 2; }
        master="$1"; domain="$2"; shift 2
        for camera in "$@"; do
          name="${camera%%=*}"; url="${camera#*=}"
          (
            while true; do
              echo "relay: $url -> $domain/$name"
              curl -sSfN --connect-timeout 3 "$url" |
                curl -sSf -k --connect-timeout 3 -T - -H 'Expect:' -H 'Content-Type: video/mp4' -o /dev/null \\
                  "https://$master/v1/streams/$domain/$name"
              sleep 1
            done
          ) &
        done
        wait

        """

    /// Writes the relay's image (busybox, curl and its libraries, `/bin/relay`) for `fuse image import`.
    public static func writeImage(to path: String) throws {
        try LabImage.write(to: path, page: "camera relay", binaries: ["curl"], files: ["/bin/relay": script])
    }

    /// One relay service per domain, placed in that domain, each carrying its cameras.
    public static func stack(master: String, relays: [(domain: String, cameras: [(name: String, url: String)])]) -> String {
        var text = "services:\n"
        for relay in relays {
            let arguments = ["relay", master, relay.domain] + relay.cameras.map { "\($0.name)=\($0.url)" }
            text += """
                  relay-\(relay.domain.lowercased()):
                    image: \(image)
                    command: [\(arguments.map { "\"\($0)\"" }.joined(separator: ", "))]
                    stop_grace_period: 1s
                    x-fuse-domain: \(relay.domain)

                """
        }
        return text
    }
}
