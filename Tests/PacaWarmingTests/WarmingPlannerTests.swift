import Foundation
import PacaCore
import Testing

@testable import PacaWarming

/// A cache and an origin for the planner, on the test's clock: warming jobs complete at once,
/// a request is a hit when its key is fresh.
struct PlannerHarness {
    var planner: WarmingPlanner
    /// Key → expiry.
    var cache: [String: UnixMillis] = [:]
    /// Key → TTL in ms.
    var ttls: [String: Int64] = [:]
    /// Every job sent, with its time.
    var sent: [(job: WarmJob, at: UnixMillis)] = []
    /// Client requests and how they were served.
    var hits = 0
    var misses: [(key: String, at: UnixMillis)] = []
    /// What the origin answers warming jobs with (default: the entry, fresh for its TTL).
    var answer: ((WarmJob, UnixMillis) -> WarmOutcome)?
    var clock: UnixMillis

    init(configuration: WarmingPlanner.Configuration = .init(), start: UnixMillis, model: WarmingModel = WarmingModel()) {
        planner = WarmingPlanner(configuration: configuration, model: model)
        clock = start
    }

    static func url(_ key: String) -> String { "/" + key }

    func ttl(_ key: String) -> Int64 { ttls[key] ?? 60_000 }

    /// Plans and sends what is due at `time`; the origin answers at once.
    mutating func step(at time: UnixMillis) {
        clock = time
        planner.plan(at: time)
        sendDue(at: time)
    }

    mutating func sendDue(at time: UnixMillis) {
        for job in planner.dispatch(at: time) {
            sent.append((job, time))
            let outcome: WarmOutcome
            if let answer {
                outcome = answer(job, time)
            } else if job.mode != .refresh, let expiry = cache[job.key], expiry > time {
                outcome = .fresh(.init(key: job.key, expiry: expiry, lifetime: ttl(job.key), bytes: 100))
            } else if job.mode == .promote {
                outcome = .notCached
            } else {
                cache[job.key] = time + ttl(job.key)
                outcome = .fetched(
                    .init(key: job.key, expiry: time + ttl(job.key), lifetime: ttl(job.key), bytes: 100), originMillis: 5,
                    notModified: false)
            }
            planner.completed(job, with: outcome, at: time)
        }
    }

    /// Steps every `stride` ms from the current time up to `end` (exclusive).
    mutating func run(until end: UnixMillis, stride: Int64 = 1000) {
        var time = clock
        while time < end {
            step(at: time)
            time += stride
        }
        clock = end
    }

    /// A client's GET of `key` at `time`.
    mutating func request(_ key: String, at time: UnixMillis) {
        let served: WarmingPlanner.Observation.Served
        if let expiry = cache[key], expiry > time {
            hits += 1
            served = .hit
        } else {
            misses.append((key, time))
            cache[key] = time + ttl(key)
            served = .miss
        }
        let remaining = Int((cache[key]! - time) / 1000)
        planner.observe(.init(key: key, url: Self.url(key), time: time, served: served, ttlSeconds: remaining))
        sendDue(at: time)
    }

    func jobs(for key: String, reason: WarmJob.Reason? = nil) -> [(job: WarmJob, at: UnixMillis)] {
        sent.filter { $0.job.key == key && (reason == nil || $0.job.reason == reason) }
    }
}

@Suite("WarmingPlanner")
struct WarmingPlannerTests {
    @Test("seasonality: a key hot every day at 09:00 is warmed before 09:00 the next day, and not at 03:00")
    func seasonalWarming() {
        var harness = PlannerHarness(start: monday)
        harness.ttls["report"] = 10 * minute
        // Three days of the morning report: 60 requests between 09:00 and 09:10, nothing else.
        for d in 0..<Int64(3) {
            for i in 0..<Int64(60) {
                harness.request("report", at: monday + d * day + 9 * hour + i * 10_000)
            }
        }
        let next = monday + 3 * day
        // The night before: checked every minute, nothing for the report.
        harness.clock = next + 2 * hour
        harness.run(until: next + 4 * hour, stride: minute)
        #expect(harness.jobs(for: "report").filter { $0.at >= next }.isEmpty)
        // The hour before 09:00, stepped every 10 s.
        harness.clock = next + 8 * hour
        harness.run(until: next + 9 * hour, stride: 10_000)
        let warmed = harness.jobs(for: "report", reason: .predicted).filter { $0.at >= next }
        #expect(warmed.count == 1, "\(warmed.map(\.at))")
        if let at = warmed.first?.at {
            #expect(at < next + 9 * hour && at >= next + 8 * hour + 30 * minute, "warmed at \(at - next - 8 * hour) ms after 08:00")
        }
        // So 09:00's first request hits.
        let missesBefore = harness.misses.count
        harness.request("report", at: next + 9 * hour)
        #expect(harness.misses.count == missesBefore)
    }

    @Test("refresh-ahead: a hot key never misses across 30 TTLs, a cold key is left to expire")
    func refreshAhead() {
        var harness = PlannerHarness(start: monday)
        harness.request("cold", at: monday)
        var time = monday
        let end = monday + 30 * minute
        while time < end {
            harness.step(at: time)
            if (time - monday) % 5000 == 0 { harness.request("hot", at: time) }
            time += 1000
        }
        let hotMisses = harness.misses.filter { $0.key == "hot" }
        #expect(hotMisses.count == 1, "hot missed at \(hotMisses.map { ($0.at - monday) / 1000 }) s")
        let refreshes = harness.jobs(for: "hot", reason: .refresh)
        // One refresh per 54 s: each lands within its lead (6 s of 60 s) before the expiry.
        #expect((28...34).contains(refreshes.count), "\(refreshes.count) refreshes")
        #expect(harness.jobs(for: "cold").isEmpty)
        harness.request("cold", at: end)
        #expect(harness.misses.filter { $0.key == "cold" }.count == 2)
        let totals = harness.planner.ledger.totals
        #expect(totals.originRequests == refreshes.count)
        #expect(totals.savedMisses >= 25)
    }

    @Test("follower prefetch: after A, the B that usually follows it is fetched before it is asked for")
    func followerPrefetch() {
        var harness = PlannerHarness(start: monday)
        // Many sessions: A, then B two seconds later; between sessions, other clients' traffic.
        var time = monday
        for session in 0..<40 {
            harness.request("items/\(session)", at: time)
            harness.request("list", at: time + 500)
            harness.request("list/details", at: time + 2000)
            for other in 0..<30 { harness.request("other/\((session * 7 + other) % 50)", at: time + 10_000 + Int64(other) * 1000) }
            time += 90_000  // past the TTL, so B is not fresh when A comes again
        }
        let prefetched = harness.jobs(for: "list/details", reason: .follower)
        #expect(prefetched.count > 20, "\(prefetched.count) prefetches")
        // The last sessions' B were hits thanks to the prefetch.
        let lateMisses = harness.misses.filter { $0.key == "list/details" && $0.at > monday + 20 * 90_000 }
        #expect(lateMisses.isEmpty, "\(lateMisses.count) late misses")
        #expect(harness.jobs(for: "items/3", reason: .follower).isEmpty)
    }

    @Test("the rate budget is never exceeded: no window of t seconds holds more than rate × t + 1 warming requests")
    func rateBudget() {
        var configuration = WarmingPlanner.Configuration()
        configuration.maxRequestsPerSecond = 5
        configuration.maxConcurrency = 100
        configuration.minimumProbability = 0
        var harness = PlannerHarness(configuration: configuration, start: monday)
        for i in 0..<500 {
            harness.planner.observe(.init(key: "k\(i)", url: "/k\(i)", time: monday + Int64(i), served: .miss, ttlSeconds: nil))
        }
        // Everything is due at once: the planner queues 500 jobs; step every 10 ms for 60 s.
        harness.planner.planStartup(at: monday + 1000)
        harness.run(until: monday + 61_000, stride: 10)
        let times = harness.sent.filter { $0.job.mode != .promote }.map(\.at).sorted()
        #expect(times.count >= 250)
        for (index, start) in times.enumerated() {
            for window: Int64 in [200, 1000, 10_000] {
                let inWindow = times[index...].prefix { $0 < start + window }.count
                #expect(Double(inWindow) <= 5 * Double(window) / 1000 + 1, "\(inWindow) sends in \(window) ms from \(start - monday)")
            }
        }
    }

    @Test("back-off: origin errors halve the pace and pause warming for 1 s, 2 s, 4 s…; successes bring the pace back")
    func backoffOnErrors() {
        var configuration = WarmingPlanner.Configuration()
        configuration.maxRequestsPerSecond = 10
        configuration.minimumProbability = 0
        var harness = PlannerHarness(configuration: configuration, start: monday)
        for i in 0..<200 {
            harness.planner.observe(.init(key: "k\(i)", url: "/k\(i)", time: monday + Int64(i), served: .miss, ttlSeconds: nil))
        }
        var failing = true
        harness.answer = { job, time in
            job.mode == .promote
                ? .notCached
                : failing
                    ? .notStored(status: 503, originMillis: 3)
                    : .fetched(.init(key: job.key, expiry: time + 60_000, lifetime: 60_000, bytes: 1), originMillis: 3, notModified: false)
        }
        harness.planner.planStartup(at: monday + 1000)
        harness.run(until: monday + 16_000, stride: 10)
        // Failing for 15 s at 10/s would be 150 requests; back-off leaves a handful: pauses of
        // 1 + 2 + 4 + 8 s after the first errors.
        let failed = harness.sent.filter { $0.job.mode != .promote }.map(\.at)
        #expect(failed.count <= 6, "\(failed.count) requests while failing: \(failed.map { $0 - monday })")
        #expect(harness.planner.pacer.condition(at: monday + 16_000) != .full)
        #expect(harness.planner.pacer.pace < 0.1)
        #expect(harness.planner.ledger.totals.originErrors == failed.count)
        // The origin recovers: the pace climbs back to full within a few dozen successes.
        failing = false
        harness.run(until: monday + 200_000, stride: 10)
        #expect(harness.planner.pacer.pace == 1)
        #expect(harness.planner.pacer.condition(at: monday + 200_000) == .full)
    }

    @Test("back-off: an origin three times slower than usual halves the pace")
    func backoffOnSlowdown() {
        var pacer = OriginPacer(maxRequestsPerSecond: 10, maxConcurrency: 2)
        var time = monday
        for _ in 0..<50 {
            pacer.succeeded(originMillis: 20, at: time)
            time += 100
        }
        #expect(pacer.pace == 1)
        for _ in 0..<10 {
            pacer.noteLatency(400, at: time)
            time += 1000
        }
        #expect(pacer.pace < 0.5)
        #expect(pacer.backoffs >= 2)
    }

    @Test("the model survives a restart: saved, loaded, and the start-up set is the hot keys, hottest first")
    func restart() throws {
        var harness = PlannerHarness(start: monday)
        for i in 0..<Int64(300) {
            harness.request("hot", at: monday + i * 1000)
            if i % 3 == 0 { harness.request("warm", at: monday + i * 1000 + 10) }
        }
        harness.request("cold", at: monday + 100_000)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("paca-planner-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("model.json").path
        try harness.planner.model.save(to: path, savedAt: monday + 300_000)

        var configuration = WarmingPlanner.Configuration()
        configuration.top = 2
        var restarted = PlannerHarness(configuration: configuration, start: monday + 310_000, model: try WarmingModel.load(from: path))
        restarted.planner.planStartup(at: monday + 310_000)
        restarted.step(at: monday + 310_000)
        let promoted = restarted.sent.filter { $0.job.mode == .promote }.map(\.job.key)
        #expect(promoted == ["hot", "warm"])
        // Nothing below L1 in this harness: both are then fetched, hot first.
        restarted.step(at: monday + 311_000)
        restarted.step(at: monday + 312_000)
        #expect(restarted.sent.filter { $0.job.mode == .fill }.map(\.job.key) == ["hot", "warm"])
        #expect(restarted.cache["hot"] != nil && restarted.cache["cold"] == nil)
    }

    @Test("precision: a warmed entry requested before it expires is used, one that expires unrequested is wasted")
    func ledger() {
        var ledger = WarmingLedger()
        ledger.warmed("a", at: 0, expiry: 1000, missFrom: 0, reason: .predicted)
        ledger.warmed("b", at: 0, expiry: 1000, missFrom: 0, reason: .predicted)
        ledger.warmed("c", at: 0, expiry: 1000, missFrom: 500, reason: .refresh)
        ledger.requested("a", at: 400, hit: true)
        ledger.requested("c", at: 300, hit: true)  // would have hit the old copy anyway
        ledger.requested("c", at: 600, hit: true)
        ledger.expire(at: 2000)
        let totals = ledger.totals
        #expect(totals.used == 2 && totals.wasted == 1)
        #expect(totals.precision == 2.0 / 3)
        #expect(totals.savedMisses == 2)
        #expect(totals.clientRequests == 3)
    }

    @Test("the queue is bounded and a key is never queued or in flight twice")
    func boundedQueue() {
        var configuration = WarmingPlanner.Configuration()
        configuration.maxQueue = 10
        var planner = WarmingPlanner(configuration: configuration)
        for i in 0..<50 { planner.enqueue(WarmJob(key: "k\(i)", url: "/k\(i)", mode: .fill, reason: .predicted, score: Double(i))) }
        #expect(planner.queued == 10)
        #expect(planner.dropped == 40)
        planner.enqueue(WarmJob(key: "k49", url: "/k49", mode: .fill, reason: .predicted, score: 1))
        #expect(planner.queued == 10)
        let first = planner.dispatch(at: 0)
        #expect(first.map(\.key) == ["k49"])
        planner.enqueue(WarmJob(key: "k49", url: "/k49", mode: .refresh, reason: .refresh, score: 1))
        #expect(planner.queued == 9)
    }
}

@Test("Observations group a variant key and a kept-parts key under their URL's primary key")
func observationKeys() {
    let primary = "v1|http://o|/a|f"
    #expect(WarmJob.primaryKey(of: primary) == primary)
    #expect(WarmJob.primaryKey(of: primary + "|v:accept=x") == primary)
    #expect(WarmJob.primaryKey(of: primary + "|p") == primary)
}
