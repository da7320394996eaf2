import Foundation

/// One media fragment of a fragmented MP4 stream: every box from after the previous fragment's
/// `mdat` up to and including its own (`styp`, `prft`, `moof`, `mdat`), as received.
public struct MP4Fragment: Sendable, Equatable {
    public let bytes: [UInt8]
    /// Samples (video frames) in the fragment's first track run(s).
    public let samples: Int
    /// Whether it starts with a sync sample: a viewer can start decoding here.
    public let keyframe: Bool
    /// `tfdt` of the first track fragment, in the track's timescale.
    public let decodeTime: UInt64
    /// Wall-clock time at which the producer (the camera) made the fragment (`prft`), if it says.
    public let producerTime: Date?

    public init(bytes: [UInt8], samples: Int, keyframe: Bool, decodeTime: UInt64, producerTime: Date?) {
        self.bytes = bytes
        self.samples = samples
        self.keyframe = keyframe
        self.decodeTime = decodeTime
        self.producerTime = producerTime
    }
}

/// What a `FragmentedMP4Reader` found in the bytes given to it.
public enum MP4Event: Sendable, Equatable {
    /// `ftyp` + `moov`: what every viewer needs first. `timescale` of the first track.
    case initialization(bytes: [UInt8], timescale: UInt32)
    case fragment(MP4Fragment)
}

public struct MP4Error: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Reads a fragmented MP4 (ISO BMFF, as cameras and `ffmpeg -movflags frag_*` send it) as it
/// arrives, in chunks of any size, without decoding: it splits the stream into the
/// initialization segment and media fragments and reads, per fragment, the frame count, whether
/// it starts with a keyframe, its decode time and the camera's `prft` wall-clock time.
/// Refuses anything else with one line: a stream that does not start with `ftyp`, a fragment
/// before `moov`, a box bigger than `maxBoxSize`, a malformed box.
public struct FragmentedMP4Reader: Sendable {
    public let maxBoxSize: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var initialization: [UInt8]? = nil
    private var header: [UInt8] = []
    private var pending: [UInt8] = []
    private var pendingMoof: [UInt8]? = nil
    private var pendingPRFT: Date? = nil
    private var defaultSampleFlags: UInt32 = 0
    private var sawFirstBox = false

    public static let defaultMaxBoxSize = 4 * 1024 * 1024

    public init(maxBoxSize: Int = defaultMaxBoxSize) {
        self.maxBoxSize = maxBoxSize
    }

    /// Bytes received but not yet part of a complete box.
    public var buffered: Int { buffer.count - start }

    public mutating func append(_ bytes: some Sequence<UInt8>) throws -> [MP4Event] {
        buffer.append(contentsOf: bytes)
        var events: [MP4Event] = []
        while let (type, size) = try nextBox() {
            let box = Array(buffer[start..<(start + size)])
            start += size
            if let event = try take(type: type, box: box) { events.append(event) }
        }
        if start > 0, start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        return events
    }

    /// The type and size of the next complete box, nil while it is incomplete.
    private mutating func nextBox() throws -> (String, Int)? {
        let available = buffer.count - start
        guard available >= 8 else { return nil }
        var size = Int(Self.uint32(buffer, start))
        let type = try Self.boxType(buffer, start + 4)
        var headerSize = 8
        if size == 1 {
            guard available >= 16 else { return nil }
            let large = Self.uint64(buffer, start + 8)
            guard large <= UInt64(Int.max) else { throw MP4Error("MP4 box '\(type)' has an impossible size") }
            size = Int(large)
            headerSize = 16
        }
        if !sawFirstBox {
            guard type == "ftyp" else { throw MP4Error("not a fragmented MP4 stream: it starts with '\(type)', expected 'ftyp'") }
            sawFirstBox = true
        }
        guard size != 0 else { throw MP4Error("MP4 box '\(type)' runs to the end of the stream; a live stream needs sized boxes") }
        guard size >= headerSize else { throw MP4Error("MP4 box '\(type)' is malformed (size \(size))") }
        guard size <= maxBoxSize else { throw MP4Error("MP4 box '\(type)' of \(size) bytes is over the limit of \(maxBoxSize) bytes") }
        return available >= size ? (type, size) : nil
    }

    private mutating func take(type: String, box: [UInt8]) throws -> MP4Event? {
        if initialization == nil {
            switch type {
            case "moov":
                let timescale = try Self.readMoov(box, defaultFlags: &defaultSampleFlags)
                let bytes = header + box
                initialization = bytes
                header = []
                return .initialization(bytes: bytes, timescale: timescale)
            case "moof", "mdat": throw MP4Error("MP4 '\(type)' before 'moov': the stream has no initialization segment")
            default:
                header += box
                guard header.count <= maxBoxSize else { throw MP4Error("MP4 stream has no 'moov' in its first \(maxBoxSize) bytes") }
                return nil
            }
        }
        switch type {
        case "moov", "ftyp": throw MP4Error("MP4 stream sends a second '\(type)'; start a new stream for a new initialization segment")
        case "prft":
            pendingPRFT = Self.readPRFT(box)
        case "moof":
            guard pendingMoof == nil else { throw MP4Error("MP4 'moof' without its 'mdat'") }
            pendingMoof = box
        case "mdat":
            guard let moof = pendingMoof else { throw MP4Error("MP4 'mdat' without a 'moof'") }
            let run = try Self.readMoof(moof, defaultFlags: defaultSampleFlags)
            let fragment = MP4Fragment(bytes: pending + moof + box, samples: run.samples, keyframe: run.keyframe,
                                       decodeTime: run.decodeTime, producerTime: pendingPRFT)
            pending = []
            pendingMoof = nil
            pendingPRFT = nil
            return .fragment(fragment)
        default: break
        }
        if type != "moof" { pending += box }
        guard pending.count <= maxBoxSize else { throw MP4Error("MP4 fragment over \(maxBoxSize) bytes without an 'mdat'") }
        return nil
    }

    // MARK: Boxes inside moov and moof

    /// The children of a box's payload: (type, payload range).
    static func children(_ bytes: [UInt8], _ range: Range<Int>) throws -> [(String, Range<Int>)] {
        var result: [(String, Range<Int>)] = []
        var offset = range.lowerBound
        while offset + 8 <= range.upperBound {
            let size = Int(uint32(bytes, offset))
            let type = try boxType(bytes, offset + 4)
            guard size >= 8, offset + size <= range.upperBound else { throw MP4Error("MP4 box '\(type)' is malformed (size \(size))") }
            result.append((type, (offset + 8)..<(offset + size)))
            offset += size
        }
        return result
    }

    static func child(_ type: String, _ bytes: [UInt8], _ range: Range<Int>) throws -> Range<Int>? {
        try children(bytes, range).first { $0.0 == type }?.1
    }

    /// The first track's timescale (`mdhd`) and the default sample flags (`trex`).
    static func readMoov(_ box: [UInt8], defaultFlags: inout UInt32) throws -> UInt32 {
        let payload = 8..<box.count
        if let mvex = try child("mvex", box, payload), let trex = try child("trex", box, mvex), trex.count >= 24 {
            defaultFlags = uint32(box, trex.lowerBound + 20)
        }
        guard let trak = try child("trak", box, payload), let mdia = try child("mdia", box, trak),
              let mdhd = try child("mdhd", box, mdia), mdhd.count >= 24 else {
            throw MP4Error("MP4 'moov' has no track with a media header")
        }
        let timescale = uint32(box, mdhd.lowerBound + (box[mdhd.lowerBound] == 1 ? 20 : 12))
        guard timescale > 0 else { throw MP4Error("MP4 track has timescale 0") }
        return timescale
    }

    struct Run {
        var samples = 0
        var keyframe = false
        var decodeTime: UInt64 = 0
    }

    /// Frames, keyframe and decode time of the first track fragment.
    static func readMoof(_ box: [UInt8], defaultFlags: UInt32) throws -> Run {
        guard let traf = try child("traf", box, 8..<box.count) else { throw MP4Error("MP4 'moof' without a track fragment") }
        var run = Run()
        var sampleFlags = defaultFlags
        var first: UInt32?
        for (type, range) in try children(box, traf) {
            guard range.count >= 4 else { throw MP4Error("MP4 '\(type)' is too short") }
            let flags = uint32(box, range.lowerBound) & 0x00FF_FFFF
            switch type {
            case "tfhd":
                var offset = range.lowerBound + 8
                if flags & 0x01 != 0 { offset += 8 }
                for bit in [UInt32(0x02), 0x08, 0x10] where flags & bit != 0 { offset += 4 }
                if flags & 0x20 != 0 {
                    guard offset + 4 <= range.upperBound else { throw MP4Error("MP4 'tfhd' is too short") }
                    sampleFlags = uint32(box, offset)
                }
            case "tfdt":
                let version = box[range.lowerBound]
                guard range.count >= (version == 1 ? 12 : 8) else { throw MP4Error("MP4 'tfdt' is too short") }
                run.decodeTime = version == 1 ? uint64(box, range.lowerBound + 4) : UInt64(uint32(box, range.lowerBound + 4))
            case "trun":
                guard range.count >= 8 else { throw MP4Error("MP4 'trun' is too short") }
                let count = Int(uint32(box, range.lowerBound + 4))
                var offset = range.lowerBound + 8
                if flags & 0x01 != 0 { offset += 4 }
                if flags & 0x04 != 0, offset + 4 <= range.upperBound, first == nil, run.samples == 0 {
                    first = uint32(box, offset)
                    offset += 4
                }
                if first == nil, run.samples == 0, flags & 0x400 != 0, count > 0 {
                    let skip = (flags & 0x100 != 0 ? 4 : 0) + (flags & 0x200 != 0 ? 4 : 0)
                    if offset + skip + 4 <= range.upperBound { first = uint32(box, offset + skip) }
                }
                run.samples += count
            default: continue
            }
        }
        run.keyframe = ((first ?? sampleFlags) & 0x0001_0000) == 0
        return run
    }

    /// The NTP time of a `prft` box as a date.
    static func readPRFT(_ box: [UInt8]) -> Date? {
        guard box.count >= 24 else { return nil }
        let seconds = Double(uint32(box, 16)), fraction = Double(uint32(box, 20)) / 4_294_967_296
        guard seconds > 0 else { return nil }
        return Date(timeIntervalSince1970: seconds - 2_208_988_800 + fraction)
    }

    // MARK: Bytes

    static func uint32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func uint64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        bytes[offset..<(offset + 8)].reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func boxType(_ bytes: [UInt8], _ offset: Int) throws -> String {
        let type = bytes[offset..<(offset + 4)]
        guard type.allSatisfy({ (0x20...0x7E).contains($0) }) else { throw MP4Error("not an MP4 stream: bad box type at byte \(offset)") }
        return String(decoding: type, as: UTF8.self)
    }
}
