import Foundation

/// Figures of one live stream as fragments arrive: frames per second and bit rate over the
/// last `window` seconds, frames missing from the decode timeline, and the latency from the
/// camera's frame time (`prft`) to arrival.
public struct StreamStats: Sendable {
    public static let window: TimeInterval = 2

    struct Arrival {
        let at: Date
        let frames: Int
        let bytes: Int
    }

    private var arrivals: [Arrival] = []
    public private(set) var frames: Int64 = 0
    public private(set) var droppedFrames: Int64 = 0
    public private(set) var lastFrameAt: Date?
    /// Smoothed (EWMA) latency in milliseconds.
    public private(set) var latencyMilliseconds: Double?
    private var lastDecodeTime: UInt64?
    private var lastSamples = 0
    /// The smallest decode-time step per frame seen so far: one frame's duration.
    private var frameDuration: UInt64?

    public init() {}

    public mutating func add(_ fragment: MP4Fragment, at now: Date) {
        arrivals.append(Arrival(at: now, frames: fragment.samples, bytes: fragment.bytes.count))
        arrivals.removeAll { now.timeIntervalSince($0.at) > Self.window }
        frames += Int64(fragment.samples)
        lastFrameAt = now
        if let last = lastDecodeTime, lastSamples > 0, fragment.decodeTime > last {
            let step = (fragment.decodeTime - last) / UInt64(lastSamples)
            if step > 0 { frameDuration = min(frameDuration ?? step, step) }
            if let duration = frameDuration {
                let expected = Int64((fragment.decodeTime - last + duration / 2) / duration)
                droppedFrames += max(0, expected - Int64(lastSamples))
            }
        }
        lastDecodeTime = fragment.decodeTime
        lastSamples = fragment.samples
        if let produced = fragment.producerTime {
            let latency = max(0, now.timeIntervalSince(produced) * 1000)
            latencyMilliseconds = latencyMilliseconds.map { $0 * 0.9 + latency * 0.1 } ?? latency
        }
    }

    /// A new connection: its timeline starts again.
    public mutating func restart() {
        lastDecodeTime = nil
        lastSamples = 0
        arrivals = []
    }

    public func framesPerSecond(at now: Date) -> Double {
        Double(recent(now).reduce(0) { $0 + $1.frames }) / Self.window
    }

    public func bitsPerSecond(at now: Date) -> Double {
        Double(recent(now).reduce(0) { $0 + $1.bytes }) * 8 / Self.window
    }

    private func recent(_ now: Date) -> [Arrival] {
        arrivals.filter { now.timeIntervalSince($0.at) <= Self.window }
    }
}
