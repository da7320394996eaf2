import Foundation
import FuseModel
import Testing

@Suite struct FragmentedMP4Tests {
    @Test func splitsInitializationAndFragmentsInChunksOfAnySize() throws {
        let wallclock = Date(timeIntervalSince1970: 1_900_000_000.25)
        let stream = MP4Fixture.ftyp + MP4Fixture.moov
            + MP4Fixture.fragment(decodeTime: 0, keyframe: true, wallclock: wallclock)
            + MP4Fixture.fragment(samples: 2, decodeTime: 512, keyframe: false)
        for chunk in [1, 7, 100, stream.count] {
            var reader = FragmentedMP4Reader()
            var events: [MP4Event] = []
            var offset = 0
            while offset < stream.count {
                events += try reader.append(stream[offset..<min(stream.count, offset + chunk)])
                offset += chunk
            }
            #expect(events.count == 3, "chunk \(chunk)")
            #expect(events.first == .initialization(bytes: MP4Fixture.ftyp + MP4Fixture.moov, timescale: 12800))
            guard case .fragment(let first) = events[1], case .fragment(let second) = events[2] else {
                Issue.record("expected two fragments: \(events)")
                continue
            }
            #expect(first.keyframe && first.samples == 1 && first.decodeTime == 0)
            #expect(abs((first.producerTime?.timeIntervalSince1970 ?? 0) - wallclock.timeIntervalSince1970) < 0.001)
            #expect(first.bytes == MP4Fixture.fragment(decodeTime: 0, keyframe: true, wallclock: wallclock), "a fragment is its boxes as received")
            #expect(!second.keyframe && second.samples == 2 && second.decodeTime == 512 && second.producerTime == nil)
            #expect(reader.buffered == 0)
        }
    }

    @Test func refusesWhatIsNoFragmentedMP4() throws {
        let cases: [([UInt8], String)] = [
            (Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), "not a fragmented MP4 stream: it starts with '/ HT', expected 'ftyp'"),
            (MP4Fixture.box("moov", []), "not a fragmented MP4 stream: it starts with 'moov', expected 'ftyp'"),
            (MP4Fixture.ftyp + MP4Fixture.fragment(decodeTime: 0, keyframe: true), "MP4 'moof' before 'moov': the stream has no initialization segment"),
            (MP4Fixture.ftyp + MP4Fixture.be32(0) + Array("mdat".utf8), "MP4 box 'mdat' runs to the end of the stream; a live stream needs sized boxes"),
            (MP4Fixture.ftyp + MP4Fixture.be32(5) + Array("free".utf8), "MP4 box 'free' is malformed (size 5)"),
            (MP4Fixture.ftyp + MP4Fixture.moov + MP4Fixture.box("mdat", [1]), "MP4 'mdat' without a 'moof'"),
        ]
        for (bytes, message) in cases {
            var reader = FragmentedMP4Reader()
            #expect(throws: MP4Error.self) { _ = try reader.append(bytes) }
            var again = FragmentedMP4Reader()
            do { _ = try again.append(bytes) } catch { #expect("\(error)" == message) }
        }
    }

    @Test func refusesOversizedBoxesBeforeBufferingThem() throws {
        var reader = FragmentedMP4Reader(maxBoxSize: 1000)
        _ = try reader.append(MP4Fixture.ftyp + MP4Fixture.moov)
        do {
            _ = try reader.append(MP4Fixture.be32(5_000_000) + Array("mdat".utf8))
            Issue.record("an oversized box was accepted")
        } catch {
            #expect("\(error)" == "MP4 box 'mdat' of 5000000 bytes is over the limit of 1000 bytes")
        }
    }

    @Test func statsCountFramesRateDropsAndLatency() {
        var stats = StreamStats()
        let start = Date(timeIntervalSince1970: 1_900_000_000)
        // 25 fps for 2 s, with frame 30 missing; every frame made 40 ms before it arrives.
        for frame in 0..<50 where frame != 30 {
            let at = start.addingTimeInterval(Double(frame) * 0.04)
            stats.add(MP4Fragment(bytes: [UInt8](repeating: 0, count: 1000), samples: 1, keyframe: frame % 25 == 0, decodeTime: UInt64(frame) * 512,
                                  producerTime: at.addingTimeInterval(-0.04)), at: at)
        }
        let end = start.addingTimeInterval(49 * 0.04)
        #expect(stats.frames == 49)
        #expect(stats.droppedFrames == 1)
        #expect(abs(stats.framesPerSecond(at: end) - 24.5) < 0.01)
        #expect(abs(stats.bitsPerSecond(at: end) - 49 * 1000 * 8 / 2) < 1)
        #expect(abs((stats.latencyMilliseconds ?? 0) - 40) < 0.5)
        #expect(stats.framesPerSecond(at: end.addingTimeInterval(3)) == 0, "no frames for 3 s: 0 fps")
    }
}
