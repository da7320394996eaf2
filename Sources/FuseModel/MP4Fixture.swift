import Foundation

/// A minimal fragmented MP4 built box by box (no codec data): what tests push through the
/// readers and the master's ingest.
public enum MP4Fixture {
    public static func be32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
    public static func be64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) } }

    public static func box(_ type: String, _ payload: [UInt8]) -> [UInt8] {
        be32(UInt32(payload.count + 8)) + Array(type.utf8) + payload
    }

    public static let ftyp = box("ftyp", Array("isom".utf8) + be32(0x200) + Array("isomiso6".utf8))

    /// moov with one track of timescale 12800 whose fragments' samples are non-sync by default (trex).
    public static let moov = box("moov", box("mvhd", [UInt8](repeating: 0, count: 100))
        + box("trak", box("mdia", box("mdhd", [0, 0, 0, 0] + be32(0) + be32(0) + be32(12800) + be32(0) + [0, 0, 0, 0])))
        + box("mvex", box("trex", [0, 0, 0, 0] + be32(1) + be32(1) + be32(512) + be32(0) + be32(0x0101_0000))))

    /// prft + moof + mdat of one fragment with `samples` frames at `decodeTime`.
    public static func fragment(samples: UInt32 = 1, decodeTime: UInt64, keyframe: Bool, wallclock: Date? = nil, data: Int = 100) -> [UInt8] {
        var bytes: [UInt8] = []
        if let wallclock {
            let ntp = wallclock.timeIntervalSince1970 + 2_208_988_800
            let seconds = UInt32(ntp), fraction = UInt32((ntp - Double(seconds)) * 4_294_967_296)
            bytes += box("prft", [1, 0, 0, 0x18] + be32(1) + be32(seconds) + be32(fraction) + be64(decodeTime))
        }
        let tfhd = box("tfhd", [0, 0x02, 0, 0x20] + be32(1) + be32(0x0101_0000))
        let tfdt = box("tfdt", [1, 0, 0, 0] + be64(decodeTime))
        // data offset + first-sample flags (sync) when a keyframe.
        let trun = keyframe
            ? box("trun", [0, 0, 0x00, 0x05] + be32(samples) + be32(0) + be32(0x0200_0000))
            : box("trun", [0, 0, 0x00, 0x01] + be32(samples) + be32(0))
        bytes += box("moof", box("mfhd", [0, 0, 0, 0] + be32(1)) + box("traf", tfhd + tfdt + trun))
        bytes += box("mdat", [UInt8](repeating: 0xAB, count: data))
        return bytes
    }
}
