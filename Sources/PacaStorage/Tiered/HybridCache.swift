public import Logging
public import PacaCore

/// `HybridCache` of the original design: one budget split between memory and disk; hot entries
/// live in L1, cold ones only on disk. "Cold" means refused by L1's admission policy (or larger
/// than an L1 entry may be); every fill is also written to disk, so nothing refused is lost.
public enum HybridCache {
    /// A tiered cache over `directory` with `totalBytes` split 10% memory / 90% disk.
    public static func make(
        totalBytes: Int, directory: String, memoryShare: Double = 0.1, clock: any WallClock = SystemWallClock(),
        logger: Logger = Logger(label: "paca.hybrid")
    ) throws -> TieredCache {
        let memoryBytes = max(1 << 20, Int(Double(totalBytes) * memoryShare))
        let disk = try DiskCache(directory: directory, maxBytes: max(1 << 20, totalBytes - memoryBytes), clock: clock, logger: logger)
        return TieredCache(
            configuration: .init(memoryMaxBytes: memoryBytes, memoryPolicy: .tinyLFU, lowerTiers: [disk]),
            clock: clock, logger: logger)
    }
}
