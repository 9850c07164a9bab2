import Foundation
import NIOCore

/// How many processors this process may run on: the affinity mask (`taskset`, cpusets), read
/// from `/proc/self/status` on Linux, else NIO's core count. Event loops beyond it only add
/// context switches.
enum ProcessorAffinity {
    static func usableProcessors() -> Int {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") })
        {
            let mask = line.dropFirst("Cpus_allowed:".count).filter { $0.isHexDigit }
            let count = mask.reduce(0) { $0 + (Int(String($1), radix: 16) ?? 0).nonzeroBitCount }
            if count > 0 { return min(count, System.coreCount) }
        }
        return System.coreCount
    }
}
