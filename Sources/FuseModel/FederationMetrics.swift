import Foundation

/// The master's `/metrics`: the dashboard's view of the federation and the API's request
/// counts as Prometheus metric families (see docs/dashboard.md for the list).
public enum FederationMetrics {
    public static func families(_ view: FederationView, requests: RequestMetrics) -> [MetricFamily] {
        typealias Sample = MetricFamily.Sample
        let now = view.generatedAt
        let nodes = view.nodes
        func node(_ n: FederationView.NodeView) -> [(String, String)] { [("node", n.name), ("domain", n.domain)] }
        func stream(_ s: FederationView.StreamView) -> [(String, String)] { [("stream", s.id), ("domain", s.domain), ("node", s.node)] }
        let tunnels = nodes.compactMap { n in n.tunnel.map { (n, $0) } }
        let states: [FederationView.StreamView.State] = [.live, .stalled, .ended]
        var families = [
            MetricFamily("fuse_nodes", .gauge, help: "Nodes of the federation by state.", samples: [
                Sample(Double(nodes.filter(\.online).count), labels: [("state", "online")]),
                Sample(Double(nodes.filter { !$0.online }.count), labels: [("state", "offline")]),
            ]),
            MetricFamily("fuse_node_online", .gauge, help: "1 if the node was heard from within the online window.",
                         samples: nodes.map { Sample($0.online ? 1 : 0, labels: node($0)) }),
            MetricFamily("fuse_node_last_seen_age_seconds", .gauge, help: "Seconds since the node was last heard from.",
                         samples: nodes.compactMap { n in n.lastSeen.map { Sample(max(0, now.timeIntervalSince($0)), labels: node(n)) } }),
            MetricFamily("fuse_map_version", .gauge, help: "The master's current network-map version.", samples: [Sample(Double(view.mapVersion))]),
            MetricFamily("fuse_node_map_version_lag", .gauge, help: "Map versions the node is behind the master (0: it applied the current map and policy).",
                         samples: nodes.compactMap { n in n.versionLag.map { Sample(Double($0), labels: node(n)) } }),
            MetricFamily("fuse_policy_version", .gauge, help: "Version of the policy in force (0: the default policy).",
                         samples: [Sample(Double(view.policy.version ?? 0))]),
            MetricFamily("fuse_exposures", .gauge, help: "Services the domains expose to the federation.", samples: [Sample(Double(view.exposures.count))]),
            MetricFamily("fuse_tunnel_handshake_age_seconds", .gauge, help: "Seconds since the hub's last WireGuard handshake with the node.",
                         samples: tunnels.compactMap { n, t in t.lastHandshake.map { Sample(max(0, now.timeIntervalSince($0)), labels: node(n)) } }),
            MetricFamily("fuse_tunnel_received_bytes_total", .counter, help: "Bytes the hub received from the node over WireGuard.",
                         samples: tunnels.map { n, t in Sample(Double(t.receivedBytes), labels: node(n)) }),
            MetricFamily("fuse_tunnel_sent_bytes_total", .counter, help: "Bytes the hub sent to the node over WireGuard.",
                         samples: tunnels.map { n, t in Sample(Double(t.sentBytes), labels: node(n)) }),
            MetricFamily("fuse_tunnel_rtt_seconds", .gauge, help: "Round trip from the hub to the node over the tunnel (ICMP echo).",
                         samples: tunnels.compactMap { n, t in t.rttMilliseconds.map { Sample($0 / 1000, labels: node(n)) } }),
            MetricFamily("fuse_api_requests_total", .counter, help: "Requests to the master's HTTPS API by method and status code.",
                         samples: requests.counts.sorted { $0.key < $1.key }.map { Sample(Double($0.value), labels: [("method", $0.key.method), ("code", String($0.key.status))]) }),
            MetricFamily("fuse_api_request_duration_seconds", .histogram, help: "Time to the response head of the master's API requests.",
                         samples: PrometheusText.histogram(labels: [], bounds: RequestMetrics.bounds, counts: requests.latencyCounts, sum: requests.latencySum)),
            MetricFamily("fuse_streams", .gauge, help: "Camera streams pushed to the dashboard by state.",
                         samples: states.map { state in Sample(Double(view.streams.filter { $0.state == state }.count), labels: [("state", state.rawValue)]) }),
        ]
        families += [
            MetricFamily("fuse_stream_fps", .gauge, help: "Frames per second arriving at the master's ingest (counted from the fragments).",
                         samples: view.streams.map { Sample($0.ingestFPS, labels: stream($0)) }),
            MetricFamily("fuse_stream_bits_per_second", .gauge, help: "Bit rate arriving at the master's ingest.",
                         samples: view.streams.map { Sample($0.bitsPerSecond, labels: stream($0)) }),
            MetricFamily("fuse_stream_latency_seconds", .gauge, help: "Camera frame time (prft) to arrival at the master.",
                         samples: view.streams.compactMap { s in s.latencyMilliseconds.map { Sample($0 / 1000, labels: stream(s)) } }),
            MetricFamily("fuse_stream_frames_total", .counter, help: "Frames received per stream.",
                         samples: view.streams.map { Sample(Double($0.frames), labels: stream($0)) }),
            MetricFamily("fuse_stream_dropped_frames_total", .counter, help: "Frames missing from a stream's decode timeline.",
                         samples: view.streams.map { Sample(Double($0.droppedFrames), labels: stream($0)) }),
            MetricFamily("fuse_stream_viewers", .gauge, help: "Browsers watching each stream.",
                         samples: view.streams.map { Sample(Double($0.viewers), labels: stream($0)) }),
        ]
        return families
    }
}
