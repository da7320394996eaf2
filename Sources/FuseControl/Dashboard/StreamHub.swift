import Foundation
import FuseModel

/// The camera streams that relays push to the master, and the browsers that watch them.
/// A stream is `DOMAIN/CAMERA`; only a node of that domain may push it (the routes check the
/// pushing node), and one connection at a time. Viewers get the initialization segment and the
/// fragments since the last keyframe, then every fragment as it arrives; a viewer that falls
/// more than `viewerBacklog` fragments behind is cut off (its page reconnects at a keyframe).
actor StreamHub {
    static let maxStreams = 256
    static let maxViewers = 32
    static let viewerBacklog = 250
    /// A stream without frames for this long is `stalled`.
    static let stallAfter: TimeInterval = 1.2
    /// Ended streams are forgotten after this long.
    static let forgetAfter: TimeInterval = 3600

    final class Stream {
        let domain: String
        let camera: String
        var node: String
        var connection: UUID?
        var framesOnConnection = 0
        var initialization: [UInt8]?
        var sinceKeyframe: [[UInt8]] = []
        var stats = StreamStats()
        var viewers: [UUID: AsyncStream<[UInt8]>.Continuation] = [:]
        var since: Date
        var endedAt: Date?

        init(domain: String, camera: String, node: String, since: Date) {
            self.domain = domain
            self.camera = camera
            self.node = node
            self.since = since
        }

        var id: String { "\(domain)/\(camera)" }

        func endViewers() {
            viewers.values.forEach { $0.finish() }
            viewers = [:]
        }
    }

    private var streams: [String: Stream] = [:]
    private var closed = false

    static func id(domain: String, camera: String) -> String { "\(domain)/\(camera)".lowercased() }

    /// A relay on `node` starts pushing `domain/camera`; returns the connection's id.
    func begin(domain: String, camera: String, node: String, at now: Date) throws -> UUID {
        guard !closed else { throw StreamError.shuttingDown }
        forgetEnded(now)
        let key = Self.id(domain: domain, camera: camera)
        let stream: Stream
        if let existing = streams[key] {
            if existing.connection != nil {
                throw StreamError.alreadyPushed(id: existing.id, by: existing.node)
            }
            stream = existing
        } else {
            guard streams.count < Self.maxStreams else { throw StreamError.tooManyStreams(Self.maxStreams) }
            stream = Stream(domain: domain, camera: camera, node: node, since: now)
            streams[key] = stream
        }
        let connection = UUID()
        stream.connection = connection
        stream.node = node
        stream.framesOnConnection = 0
        stream.stats.restart()
        return connection
    }

    func receive(_ connection: UUID, _ events: [MP4Event], at now: Date) {
        guard let stream = streams.values.first(where: { $0.connection == connection }) else { return }
        for event in events {
            switch event {
            case .initialization(let bytes, _):
                // A new timeline: viewers of the old one start again.
                stream.endViewers()
                stream.initialization = bytes
                stream.sinceKeyframe = []
            case .fragment(let fragment):
                if stream.framesOnConnection == 0 {
                    stream.since = now
                    stream.endedAt = nil
                }
                stream.framesOnConnection += fragment.samples
                stream.stats.add(fragment, at: now)
                if fragment.keyframe { stream.sinceKeyframe = [] }
                // Only from a keyframe on: a viewer must start decoding at one.
                if fragment.keyframe || !stream.sinceKeyframe.isEmpty { stream.sinceKeyframe.append(fragment.bytes) }
                if stream.sinceKeyframe.count > Self.viewerBacklog { stream.sinceKeyframe = [] }
                for (id, viewer) in stream.viewers {
                    if case .dropped = viewer.yield(fragment.bytes) {
                        viewer.finish()
                        stream.viewers.removeValue(forKey: id)
                    }
                }
            }
        }
    }

    func end(_ connection: UUID, at now: Date) {
        guard let stream = streams.values.first(where: { $0.connection == connection }) else { return }
        stream.connection = nil
        if stream.framesOnConnection > 0 { stream.endedAt = now }
        stream.endViewers()
        stream.initialization = nil
        stream.sinceKeyframe = []
    }

    /// The live video of a stream: the initialization segment, the fragments since the last
    /// keyframe, then each new fragment.
    func watch(_ id: String) throws -> AsyncStream<[UInt8]> {
        guard let stream = streams[id.lowercased()], stream.connection != nil, let initialization = stream.initialization else {
            throw StreamError.unknown(id)
        }
        guard stream.viewers.count < Self.maxViewers else { throw StreamError.tooManyViewers(id: stream.id, limit: Self.maxViewers) }
        let (video, continuation) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .bufferingOldest(Self.viewerBacklog))
        continuation.yield(initialization)
        stream.sinceKeyframe.forEach { continuation.yield($0) }
        let viewer = UUID()
        stream.viewers[viewer] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.forget(viewer: viewer, of: id.lowercased()) }
        }
        return video
    }

    private func forget(viewer: UUID, of id: String) {
        streams[id]?.viewers.removeValue(forKey: viewer)
    }

    func views(at now: Date) -> [FederationView.StreamView] {
        streams.values.filter { $0.stats.frames > 0 }.sorted { ($0.domain.lowercased(), $0.camera) < ($1.domain.lowercased(), $1.camera) }.map { stream in
            let state: FederationView.StreamView.State
            if let last = stream.stats.lastFrameAt, stream.connection != nil, stream.framesOnConnection > 0 {
                state = now.timeIntervalSince(last) < Self.stallAfter ? .live : .stalled
            } else {
                state = .ended
            }
            return FederationView.StreamView(
                id: stream.id, domain: stream.domain, camera: stream.camera, node: stream.node, state: state,
                ingestFPS: state == .ended ? 0 : stream.stats.framesPerSecond(at: now), bitsPerSecond: state == .ended ? 0 : stream.stats.bitsPerSecond(at: now),
                latencyMilliseconds: state == .live ? stream.stats.latencyMilliseconds : nil,
                frames: stream.stats.frames, droppedFrames: stream.stats.droppedFrames, viewers: stream.viewers.count, since: stream.since)
        }
    }

    /// Ends every viewer and refuses new pushes (shutdown).
    func close() {
        closed = true
        streams.values.forEach { $0.endViewers() }
    }

    var isClosed: Bool { closed }

    private func forgetEnded(_ now: Date) {
        streams = streams.filter { _, stream in
            stream.connection != nil || stream.endedAt.map { now.timeIntervalSince($0) < Self.forgetAfter } ?? (stream.framesOnConnection > 0 || now.timeIntervalSince(stream.since) < Self.forgetAfter)
        }
    }
}
