@testable import FuseControl
import Testing

@Suite struct CredentialDigestsTests {
    @Test func aDigestIsReadOncePerNodeAndForgottenWhateverTheCase() async throws {
        let digests = CredentialDigests()
        var reads = 0
        func read() -> String? { reads += 1; return "d\(reads)" }
        #expect(try await digests.digest(of: "Cam1", read: read) == "d1")
        #expect(try await digests.digest(of: "Cam1", read: read) == "d1", "from memory")
        #expect(reads == 1)
        digests.forget("cam1")
        #expect(try await digests.digest(of: "Cam1", read: read) == "d2", "read again after the removal")
        digests.set("issued", of: "Cam1")
        #expect(try await digests.digest(of: "Cam1", read: read) == "issued")
        #expect(try await digests.digest(of: "CAM1", read: read) == "d3", "another spelling is read from the store")
    }

    @Test func aReadThatOverlapsARemovalIsNotKept() async throws {
        let digests = CredentialDigests()
        #expect(try await digests.digest(of: "cam1") { digests.forget("cam1"); return "stale" } == "stale")
        #expect(try await digests.digest(of: "cam1") { "fresh" } == "fresh", "the stale digest was not kept")
    }
}
