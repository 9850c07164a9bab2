import Foundation
import HitPathHarness
import NIOCore
import PacaAccessLog

// Runs one hit-path case N times, for an instruction count under valgrind's callgrind:
//   HitPathProfile <case> <requests>
// A case name ending in `-logged` runs with an access log that writes no file (the loop's share
// of the log's cost); `1KiB-logfile` is the 1 KiB hit with the log written to /dev/null (the
// writer's formatting and write counted too). A name ending in `-64` runs its case over 64
// connections taking turns, as wrk's -c64 sends them (`1KiB-logfile-64` against `1KiB-64`:
// each connection logs its own first hit whole, and their lines repeat one another).
// Two runs with different counts give instructions per hit as (I₂ − I₁) / (N₂ − N₁), free of
// the set-up's cost (see bench/README.md).
let arguments = CommandLine.arguments
let connections = arguments.count == 3 && arguments[1].hasSuffix("-64") ? 64 : 1
let fullName = arguments.count == 3 ? String(arguments[1].dropLast(connections > 1 ? 3 : 0)) : ""
let logfile = fullName == "1KiB-logfile"
let caseName = logfile ? "1KiB" : fullName
guard arguments.count == 3, let count = Int(arguments[2]),
    let request = HitPathCases.all.first(where: { $0.name == caseName })?.request
else {
    print("usage: HitPathProfile <\(HitPathCases.all.map(\.name).joined(separator: "|"))|1KiB-logfile>[-64] <requests>")
    exit(2)
}
// The writer thread never wakes on its own here (an hour's interval): the loop below flushes
// every `flushEvery` hits, as the thread would every 50 ms under load, so that two runs count the
// same work whatever valgrind's scheduling of threads.
let flushEvery = 500
let log: AccessLogWriter? =
    logfile
    ? try AccessLogWriter(path: "/dev/null", flushInterval: .seconds(3600))
    : fullName.hasSuffix("-logged") ? try AccessLogWriter(path: nil, flushInterval: .seconds(3600)) : nil
let bench = try HitPathBench(accessLog: log, connections: connections)
let bytes = ByteBuffer(string: request)
for connection in 0..<connections {
    let warm = try bench.exchange(bytes, connection: connection)
    precondition(warm.contains("Cache-Status: paca; hit"), "not a hit after warming: \(warm)")
}
// The warming miss's record is written now: the hits counted are the only records after it.
log?.flush()
var total = 0
for index in 0..<count {
    total &+= try bench.hit(bytes, connection: index % connections)
    if index % flushEvery == flushEvery - 1 { log?.flush() }
}
log?.flush()
print("\(arguments[1]): \(count) hits, \(total) bytes out")
