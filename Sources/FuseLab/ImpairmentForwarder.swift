import Foundation
import FuseModel
import FuseSystem
#if canImport(Glibc)
import Glibc
#endif

/// What `fuse-lab impair` asks of a link's forwarder (its control file).
public struct ImpairmentControl: Codable, Sendable, Equatable {
    public let generation: Int
    public let impairment: LinkImpairment
    public init(generation: Int, impairment: LinkImpairment) {
        self.generation = generation
        self.impairment = impairment
    }
}

/// Packet counts of one direction of a link.
public struct DirectionCounters: Codable, Sendable, Equatable {
    public var packets = 0
    public var bytes = 0
    /// Dropped at random (the loss).
    public var lost = 0
    /// Dropped because the rate's queue was full, or the delay line was.
    public var dropped = 0
    public init() {}
}

/// What a forwarder reports (its status file): the control generation it applies, and counts.
public struct ImpairmentStatus: Codable, Sendable, Equatable {
    public let pid: Int32
    public let device: String
    public let generation: Int
    public let impairment: LinkImpairment
    public let toDomain: DirectionCounters
    public let fromDomain: DirectionCounters
}

/// Monotonic nanoseconds.
@inline(__always) func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

/// A delay line: a fixed ring of packet slots, filled by the reader thread in arrival order and
/// drained by one writer thread when each packet's time comes. Release times never decrease
/// (DirectionSchedule sees to that), so a FIFO is the whole timer: no heap, no allocation per
/// packet.
final class DelayLine: @unchecked Sendable {
    static let slotSize = 2048
    let capacity: Int
    private let storage: UnsafeMutableRawPointer
    private let lengths: UnsafeMutablePointer<Int32>
    private let releases: UnsafeMutablePointer<UInt64>
    private var head = 0
    private var count = 0
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let ready = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init(capacity: Int) {
        self.capacity = capacity
        storage = UnsafeMutableRawPointer.allocate(byteCount: capacity * Self.slotSize, alignment: 64)
        lengths = .allocate(capacity: capacity)
        releases = .allocate(capacity: capacity)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(ready, nil)
    }

    /// Copies a packet in; false when the line is full (the packet is dropped).
    func push(_ packet: UnsafeRawPointer, length: Int, release: UInt64) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard count < capacity else { return false }
        let slot = (head + count) % capacity
        (storage + slot * Self.slotSize).copyMemory(from: packet, byteCount: length)
        lengths[slot] = Int32(length)
        releases[slot] = release
        count += 1
        if count == 1 { pthread_cond_signal(ready) }
        return true
    }

    /// Forever: waits for the oldest packet's time, hands it to `send`, and frees its slot.
    func drain(_ send: (UnsafeRawPointer, Int) -> Void) -> Never {
        while true {
            pthread_mutex_lock(mutex)
            while count == 0 { pthread_cond_wait(ready, mutex) }
            let slot = head
            let release = releases[slot]
            pthread_mutex_unlock(mutex)
            let now = monotonicNanoseconds()
            if release > now {
                var until = timespec(tv_sec: Int(release / 1_000_000_000), tv_nsec: Int(release % 1_000_000_000))
                while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nil) == EINTR {}
            }
            send(UnsafeRawPointer(storage + slot * Self.slotSize), Int(lengths[slot]))
            pthread_mutex_lock(mutex)
            head = (head + 1) % capacity
            count -= 1
            pthread_mutex_unlock(mutex)
        }
    }
}

/// The user-space WAN link of the lab: reads every packet that policy routing sends into its
/// TUN device, decides its fate (loss, rate, delay: `DirectionSchedule`), and writes it back
/// into the TUN device when its time comes, from where the kernel routes it on. Runs in the
/// WAN namespace as its own process (`fuse-lab impair-forward`), one per impaired link: a
/// reader thread drains the device in batches, one writer thread per direction releases.
/// Packets to the link's subnet go towards the domain, all others come from it.
public final class ImpairmentForwarder: @unchecked Sendable {
    let device: TunDevice
    let subnet: IPv4CIDR
    let controlFile: String
    let statusFile: String
    let lines = [DelayLine(capacity: 16384), DelayLine(capacity: 16384)]
    var schedules: [DirectionSchedule]
    var counters = [DirectionCounters(), DirectionCounters()]
    var control = ImpairmentControl(generation: 0, impairment: .none)
    var controlStamp: timespec?

    public init(device: TunDevice, subnet: IPv4CIDR, controlFile: String, statusFile: String) {
        self.device = device
        self.subnet = subnet
        self.controlFile = controlFile
        self.statusFile = statusFile
        let seed = UInt64(truncatingIfNeeded: monotonicNanoseconds()) ^ UInt64(getpid())
        schedules = [DirectionSchedule(.none, seed: seed), DirectionSchedule(.none, seed: seed ^ 0x5DEECE66D)]
    }

    /// Forwards until the process is killed; throws when the device fails.
    public func run() throws -> Never {
        try device.setNonBlocking()
        reloadControl(now: monotonicNanoseconds())
        writeStatus()
        for line in lines {
            let fd = device.fd
            let thread = Thread { line.drain { packet, length in _ = write(fd, packet, length) } }
            thread.stackSize = 1 << 20
            thread.start()
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: DelayLine.slotSize, alignment: 64)
        var poller = pollfd(fd: device.fd, events: Int16(POLLIN), revents: 0)
        var lastHousekeeping: UInt64 = 0
        var reported = counters
        while true {
            let ready = poll(&poller, 1, 100)
            if ready < 0, errno != EINTR { throw SystemError("poll \(device.name): \(String(cString: strerror(errno)))") }
            // Drain what is there (a batch), then look at the control file now and then.
            var batch = 0
            while batch < 256 {
                let length = read(device.fd, buffer, DelayLine.slotSize)
                if length < 0 {
                    if errno == EAGAIN || errno == EINTR { break }
                    throw SystemError("read \(device.name): \(String(cString: strerror(errno)))")
                }
                batch += 1
                forward(buffer, length: length, now: monotonicNanoseconds())
            }
            let now = monotonicNanoseconds()
            if now - lastHousekeeping > 100_000_000 {
                lastHousekeeping = now
                if reloadControl(now: now) || counters != reported {
                    reported = counters
                    writeStatus()
                }
            }
        }
    }

    @inline(__always) func forward(_ packet: UnsafeMutableRawPointer, length: Int, now: UInt64) {
        // IPv4 only (the lab's WAN); anything else the kernel sends to the device is dropped.
        guard length >= 20, packet.load(as: UInt8.self) >> 4 == 4 else { return }
        let destination = UInt32(bigEndian: packet.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
        let direction = subnet.contains(IPv4Address(destination)) ? 0 : 1
        counters[direction].packets += 1
        counters[direction].bytes += length
        switch schedules[direction].fate(bytes: length, now: now) {
        case .lost: counters[direction].lost += 1
        case .queueFull: counters[direction].dropped += 1
        case .release(let at):
            if !lines[direction].push(packet, length: length, release: at) { counters[direction].dropped += 1 }
        }
    }

    /// Reads the control file when it changed; true when a new generation was applied.
    @discardableResult
    func reloadControl(now: UInt64) -> Bool {
        var info = stat()
        guard stat(controlFile, &info) == 0 else { return false }
        if let stamp = controlStamp, stamp.tv_sec == info.st_mtim.tv_sec, stamp.tv_nsec == info.st_mtim.tv_nsec { return false }
        guard let data = FileManager.default.contents(atPath: controlFile),
              let new = try? JSONDecoder().decode(ImpairmentControl.self, from: data) else { return false }
        controlStamp = info.st_mtim
        guard new != control else { return false }
        control = new
        for index in schedules.indices { schedules[index].update(new.impairment, now: now) }
        return true
    }

    func writeStatus() {
        let status = ImpairmentStatus(pid: getpid(), device: device.name, generation: control.generation, impairment: control.impairment,
                                      toDomain: counters[0], fromDomain: counters[1])
        guard let data = try? JSONEncoder().encode(status) else { return }
        try? data.write(to: URL(fileURLWithPath: statusFile), options: .atomic)
    }
}
