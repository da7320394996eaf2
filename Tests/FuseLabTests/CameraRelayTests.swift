import Foundation
import FuseLab
import FuseModel
import Testing

@Suite struct CameraRelayTests {
    /// The relays of the lab's two companies, as `LabVideo` deploys them.
    static func labStack() throws -> String {
        let topology = try LabTopology.standard()
        return CameraRelay.stack(master: "100.64.0.1:7443", relays: try LabVideo.sites.map { site in
            let address = try #require(topology.node(site.device)?.lanAddress)
            return (site.domain, site.cameras.enumerated().map { ($0.element, "http://\(address):\(LabVideo.firstPort + $0.offset)/") })
        })
    }

    @Test func theExampleIsWhatTheLabDeploysAndPassesFUSEsComposeChecks() throws {
        let example = try String(contentsOf: LabSupport.packageRoot.appendingPathComponent("examples/camera-relay.yml"), encoding: .utf8)
        let services = example.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("#") }.joined(separator: "\n")
        #expect(services == (try Self.labStack()))
        let prepared = try Compose.prepare(yaml: example, catalogue: PlacementCatalogue(domains: ["companyA", "companyB"], nodes: ["a1", "b1"]), registry: "100.64.0.1:5000")
        #expect(prepared.services == ["relay-companya", "relay-companyb"])
        #expect(prepared.images.map(\.description) == ["100.64.0.1:5000/camera-relay:1"])
    }
}
