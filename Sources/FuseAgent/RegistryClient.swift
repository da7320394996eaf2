import AsyncHTTPClient
import Foundation
import FuseModel
import NIOCore
import NIOHTTP1

/// Reads the federation's image registry (Docker Registry HTTP API v2, plain HTTP inside the
/// tunnel): which images and tags it holds.
public struct RegistryClient: Sendable {
    let host: String

    /// `host` is `ADDRESS:PORT`.
    public init(host: String) { self.host = host }

    static let manifestTypes = [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ].joined(separator: ", ")

    /// The content digest (`sha256:…`) that the registry gives this tag now, or nil when it
    /// has no such tag. Deployments pin it, so that a tag moved later cannot change what runs.
    public func digest(_ image: ImageReference) async throws -> String? {
        let (status, headers, _) = try await send("/v2/\(image.repository)/manifests/\(image.tag)", method: .HEAD, accept: Self.manifestTypes)
        switch status {
        case 200:
            guard let digest = headers.first(name: "Docker-Content-Digest"), ImageReference.isDigest(digest) else {
                throw ClientError.api(status: status, message: "the registry at \(host) gave no content digest for \(image)")
            }
            return digest
        case 404: return nil
        default: throw ClientError.api(status: status, message: "the registry at \(host) answered HTTP \(status) for \(image)")
        }
    }

    /// Repository → its tags.
    public func catalogue() async throws -> [String: [String]] {
        struct Catalog: Decodable { let repositories: [String]? }
        struct Tags: Decodable { let tags: [String]? }
        var result: [String: [String]] = [:]
        for repository in try decode(Catalog.self, try await get("/v2/_catalog?n=1000")).repositories ?? [] {
            result[repository] = (try decode(Tags.self, try await get("/v2/\(repository)/tags/list")).tags ?? []).sorted()
        }
        return result
    }

    private func decode<T: Decodable>(_ type: T.Type, _ answer: (Int, Data)) throws -> T {
        guard answer.0 == 200 else { throw ClientError.api(status: answer.0, message: "the registry at \(host) answered HTTP \(answer.0)") }
        do { return try JSONDecoder().decode(type, from: answer.1) } catch {
            throw ClientError.api(status: 200, message: "unexpected answer from the registry: \(error)")
        }
    }

    private func get(_ path: String, method: HTTPMethod = .GET, accept: String? = nil) async throws -> (Int, Data) {
        let (status, _, body) = try await send(path, method: method, accept: accept)
        return (status, body)
    }

    private func send(_ path: String, method: HTTPMethod, accept: String?) async throws -> (Int, HTTPHeaders, Data) {
        var request = HTTPClientRequest(url: "http://\(host)\(path)")
        request.method = method
        if let accept { request.headers.add(name: "Accept", value: accept) }
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 8 << 20)
            return (Int(response.status.code), response.headers, Data(body.readableBytesView))
        } catch {
            throw ClientError.unreachable("cannot reach the federation's registry at \(host): \(error)")
        }
    }
}
