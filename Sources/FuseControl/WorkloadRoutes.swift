import Foundation
import FuseModel
import HTTPTypes
import Hummingbird
import NIOCore

/// The operator's deployments (`.admin` only, so that a node can never add an image or a stack):
/// - `POST /v1/images?name=NAME[:TAG]&format=rootfs|docker-archive[&source=IMAGE]`: an image
///   archive as the body, streamed to the master's state dir (bounded), then pushed to the
///   registry through its loopback side;
/// - `GET /v1/images`: `NAME:TAG` of every image in the registry;
/// - `POST /v1/stacks`: a compose file, deployed when every task runs;
/// - `GET /v1/tasks[?stack=NAME][&all=true]`: tasks with their nodes and domains;
/// - `DELETE /v1/stacks/{name}[?timeout=SECONDS]`: the stack, gone.
enum WorkloadRoutes {
    static func add(to on: DashboardRoutes.Add, _ controlPlane: ControlPlane) {
        on(.post, "/v1/images", .admin) { request, context in
            let query = request.uri.queryParameters
            let name = query["name"].map(String.init) ?? ""
            let formatText = query["format"].map(String.init) ?? API.ImageArchiveFormat.rootfs.rawValue
            guard let format = API.ImageArchiveFormat(rawValue: formatText) else {
                throw HTTPError(.badRequest, message: "bad format \"\(NameRule.echo(formatText))\": use rootfs or docker-archive")
            }
            // Checked before a byte of the body is stored.
            let (image, source) = try controlPlane.imageUpload(name: name, format: format, source: query["source"].map(String.init))
            let engine = try controlPlane.requireWorkloads()
            let archive = try await ImageUpload.receive(request.body, into: engine.uploadDirectory, limit: context.bodyLimit)
            defer { try? FileManager.default.removeItem(atPath: archive) }
            let added = try await controlPlane.addImage(image, format: format, source: source, archive: archive)
            return try JSONResponse(value: added, status: .created).response(from: request, context: context)
        }
        on(.get, "/v1/images", .admin) { request, context in
            try JSONResponse(value: try await controlPlane.images()).response(from: request, context: context)
        }
        on(.post, "/v1/stacks", .admin) { request, context in
            let body = try await request.decode(as: API.DeployRequest.self, context: context)
            return try JSONResponse(value: try await controlPlane.deploy(body), status: .created).response(from: request, context: context)
        }
        on(.get, "/v1/tasks", .admin) { request, context in
            let query = request.uri.queryParameters
            let all = try request.flag("all")
            let tasks = try await controlPlane.tasks(stack: query["stack"].map(String.init), all: all)
            return try JSONResponse(value: tasks).response(from: request, context: context)
        }
        on(.delete, "/v1/stacks/{name}", .admin) { request, context in
            let timeout = request.uri.queryParameters["timeout"] == nil ? 60 : Int(try request.counter("timeout"))
            try await controlPlane.undeploy(try context.parameters.require("name"), timeoutSeconds: timeout)
            return Response(status: .noContent)
        }
    }
}

extension Request {
    /// A query parameter that is `true` or `false`; absent is false.
    func flag(_ name: String) throws -> Bool {
        guard let text = uri.queryParameters[name[...]] else { return false }
        guard let value = Bool(String(text)) else {
            throw HTTPError(.badRequest, message: "bad \(name) \"\(NameRule.echo(String(text)))\": use true or false")
        }
        return value
    }
}
