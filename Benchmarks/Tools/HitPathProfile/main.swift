import Foundation
import HitPathHarness
import NIOCore
import PacaAccessLog

// Runs one hit-path case N times, for an instruction count under valgrind's callgrind:
//   HitPathProfile <1KiB|16KiB|query-vary> <requests>
// Two runs with different counts give instructions per hit as (I₂ − I₁) / (N₂ − N₁), free of
// the set-up's cost (see bench/README.md).
let arguments = CommandLine.arguments
guard arguments.count == 3, let count = Int(arguments[2]),
    let request = HitPathCases.all.first(where: { $0.name == arguments[1] })?.request
else {
    print("usage: HitPathProfile <\(HitPathCases.all.map(\.name).joined(separator: "|"))> <requests>")
    exit(2)
}
let bench = try HitPathBench(accessLog: arguments[1].hasSuffix("-logged") ? AccessLogWriter(path: nil) : nil)
let bytes = ByteBuffer(string: request)
let warm = try bench.exchange(bytes)
precondition(warm.contains("Cache-Status: paca; hit"), "not a hit after warming: \(warm)")
var total = 0
for _ in 0..<count { total &+= try bench.hit(bytes) }
print("\(arguments[1]): \(count) hits, \(total) bytes out")
