import Dispatch
import NIOCore
import PacaStorage
import Synchronization
import Testing

// PacaStorageTests depends on NIOCore only (not NIOEmbedded or NIOPosix), so this is the
// smallest event loop a promise needs: every task runs at once on the caller's thread, which
// makes `complete(key:with:)` resolve the followers' futures before it returns. Every test
// completes its fills: NIO traps on a promise that is released unfulfilled.
private final class InlineEventLoop: EventLoop {
    var inEventLoop: Bool { true }

    func execute(_ task: @escaping @Sendable () -> Void) { task() }

    func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        let promise = makePromise(of: T.self)
        promise.fail(EventLoopError.unsupportedOperation)
        return Scheduled(promise: promise, cancellationTask: {})
    }

    func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        scheduleTask(deadline: .now() + delay, task)
    }

    func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        queue.async { callback(nil) }
    }
}

/// What a follower's future delivered, in order.
private final class Outcomes: Sendable {
    private let values = Mutex<[String]>([])

    var all: [String] { values.withLock { $0 } }

    func watch(_ future: EventLoopFuture<String>) {
        future.whenSuccess { value in self.values.withLock { $0.append(value) } }
    }
}

private enum RoleKind: Equatable {
    case leader, follower, alone
}

private func kind(_ role: RequestCoalescer<String>.Role) -> RoleKind {
    switch role {
    case .leader: .leader
    case .follower: .follower
    case .alone: .alone
    }
}

private func token(_ role: RequestCoalescer<String>.Role) -> RequestCoalescer<String>.Token? {
    if case .leader(let token) = role { return token }
    return nil
}

private func future(_ role: RequestCoalescer<String>.Role) -> EventLoopFuture<String>? {
    if case .follower(let future) = role { return future }
    return nil
}

@Suite("RequestCoalescer")
struct RequestCoalescerTests {
    private let loop = InlineEventLoop()

    @Test("the first join leads; the next ones follow")
    func firstLeadsOthersFollow() throws {
        let coalescer = RequestCoalescer<String>()
        let leader = try #require(token(coalescer.join(key: "k", on: loop)))
        #expect(coalescer.inFlight == 1)
        #expect(kind(coalescer.join(key: "k", on: loop)) == .follower)
        #expect(kind(coalescer.join(key: "k", on: loop)) == .follower)
        #expect(coalescer.inFlight == 1, "followers do not start fills")
        coalescer.complete(key: "k", token: leader, with: "done")
    }

    @Test("followers' futures complete with the leader's outcome, and only then")
    func followersGetLeadersOutcome() async throws {
        let coalescer = RequestCoalescer<String>()
        let leader = try #require(token(coalescer.join(key: "k", on: loop)))
        let futures = (0..<3).compactMap { _ in future(coalescer.join(key: "k", on: loop)) }
        #expect(futures.count == 3)
        let outcomes = Outcomes()
        for future in futures { outcomes.watch(future) }
        #expect(outcomes.all.isEmpty, "nothing before the leader completes")

        coalescer.complete(key: "k", token: leader, with: "200 from origin")
        #expect(outcomes.all == Array(repeating: "200 from origin", count: 3))
        for future in futures { #expect(try await future.get() == "200 from origin") }
        #expect(coalescer.inFlight == 0)
    }

    @Test("keys are independent")
    func keysAreIndependent() async throws {
        let coalescer = RequestCoalescer<String>()
        let leaderA = try #require(token(coalescer.join(key: "a", on: loop)))
        let leaderB = try #require(token(coalescer.join(key: "b", on: loop)))
        #expect(leaderA != leaderB, "every fill has its own token")
        #expect(coalescer.inFlight == 2)
        let followerA = try #require(future(coalescer.join(key: "a", on: loop)))
        let followerB = try #require(future(coalescer.join(key: "b", on: loop)))
        let outcomes = Outcomes()
        outcomes.watch(followerA)
        outcomes.watch(followerB)

        coalescer.complete(key: "b", token: leaderB, with: "b-outcome")
        #expect(outcomes.all == ["b-outcome"])
        #expect(coalescer.inFlight == 1)
        coalescer.complete(key: "a", token: leaderA, with: "a-outcome")
        #expect(try await followerA.get() == "a-outcome")
        #expect(try await followerB.get() == "b-outcome")
        #expect(coalescer.inFlight == 0)
    }

    @Test("past maxWaiters, joiners fetch alone", arguments: [0, 1, 3])
    func aloneBeyondMaxWaiters(maxWaiters: Int) throws {
        let coalescer = RequestCoalescer<String>(maxWaiters: maxWaiters)
        #expect(coalescer.maxWaiters == maxWaiters)
        let first = coalescer.join(key: "k", on: loop)
        let leader = try #require(token(first))
        let roles = [first] + (0..<(maxWaiters + 2)).map { _ in coalescer.join(key: "k", on: loop) }
        let expected: [RoleKind] = [.leader] + Array(repeating: .follower, count: maxWaiters) + [.alone, .alone]
        #expect(roles.map(kind) == expected)
        #expect(coalescer.inFlight == 1)
        coalescer.complete(key: "k", token: leader, with: "done")
    }

    @Test("10,000 waiters join one key and every one gets the leader's outcome")
    func tenThousandWaiters() async throws {
        let coalescer = RequestCoalescer<String>()
        let leader = try #require(token(coalescer.join(key: "hot", on: loop)))
        let futures = (0..<10_000).compactMap { _ in future(coalescer.join(key: "hot", on: loop)) }
        #expect(futures.count == 10_000, "all within the default bound")
        #expect(kind(coalescer.join(key: "hot", on: loop)) == .alone, "the 10,001st waiter fetches alone")
        let outcomes = Outcomes()
        for future in futures { outcomes.watch(future) }
        coalescer.complete(key: "hot", token: leader, with: "origin answer")
        #expect(outcomes.all.count == 10_000)
        #expect(outcomes.all.allSatisfy { $0 == "origin answer" })
        #expect(coalescer.inFlight == 0)
    }

    @Test("many keys joined from many threads at once: one leader each, every waiter completed")
    func concurrentKeys() throws {
        let coalescer = RequestCoalescer<String>()
        let keys = (0..<512).map { "key-\($0)" }
        let roles = Mutex<[String: [RequestCoalescer<String>.Role]]>([:])
        DispatchQueue.concurrentPerform(iterations: keys.count * 8) { index in
            let key = keys[index % keys.count]
            let role = coalescer.join(key: key, on: loop)
            roles.withLock { $0[key, default: []].append(role) }
        }
        #expect(coalescer.inFlight == keys.count)
        let outcomes = Outcomes()
        for key in keys {
            let joined = try #require(roles.withLock { $0[key] })
            let leaders = joined.compactMap(token)
            #expect(leaders.count == 1, "\(key)")
            for role in joined { if let future = future(role) { outcomes.watch(future) } }
            coalescer.complete(key: key, token: try #require(leaders.first), with: key)
        }
        #expect(outcomes.all.count == keys.count * 7)
        #expect(Set(outcomes.all) == Set(keys))
        #expect(coalescer.inFlight == 0)
    }

    @Test("the default bound is 10,000 waiters")
    func defaultMaxWaiters() {
        #expect(RequestCoalescer<String>().maxWaiters == 10_000)
    }

    @Test("complete releases the key: the next join leads a new fill")
    func completeReleasesKey() async throws {
        let coalescer = RequestCoalescer<String>(maxWaiters: 1)
        let firstLeader = try #require(token(coalescer.join(key: "k", on: loop)))
        let first = try #require(future(coalescer.join(key: "k", on: loop)))
        #expect(kind(coalescer.join(key: "k", on: loop)) == .alone)
        coalescer.complete(key: "k", token: firstLeader, with: "first")
        #expect(coalescer.inFlight == 0)

        let secondLeader = try #require(token(coalescer.join(key: "k", on: loop)))
        #expect(secondLeader != firstLeader)
        let second = try #require(future(coalescer.join(key: "k", on: loop)), "the waiter bound starts afresh")
        coalescer.complete(key: "k", token: secondLeader, with: "second")
        #expect(try await first.get() == "first")
        #expect(try await second.get() == "second")
        #expect(coalescer.inFlight == 0)
    }

    @Test("completing a fill nobody waits on, or an unknown key, is harmless")
    func completeWithoutWaiters() throws {
        let coalescer = RequestCoalescer<String>()
        let leader = try #require(token(coalescer.join(key: "k", on: loop)))
        coalescer.complete(key: "never-joined", token: leader, with: "x")
        #expect(coalescer.inFlight == 1, "another key's completion does not end this fill")
        coalescer.complete(key: "k", token: leader, with: "x")
        coalescer.complete(key: "k", token: leader, with: "y")
        #expect(coalescer.inFlight == 0)
        #expect(kind(coalescer.join(key: "k", on: loop)) == .leader)
        coalescer.abandon(key: "k", with: "cleanup")
    }

    @Test("abandon hands its outcome to the current waiters and frees the key")
    func abandonReleasesWaiters() async throws {
        let coalescer = RequestCoalescer<String>()
        let oldLeader = try #require(token(coalescer.join(key: "k", on: loop)))
        let oldFollower = try #require(future(coalescer.join(key: "k", on: loop)))
        coalescer.abandon(key: "k", with: "purged")
        #expect(try await oldFollower.get() == "purged")
        #expect(coalescer.inFlight == 0)

        // A request after the purge never joins the older fill.
        let newLeader = try #require(token(coalescer.join(key: "k", on: loop)))
        #expect(newLeader != oldLeader)
        let newFollower = try #require(future(coalescer.join(key: "k", on: loop)))
        let outcomes = Outcomes()
        outcomes.watch(newFollower)

        // The abandoned fill finishing late completes nothing.
        coalescer.complete(key: "k", token: oldLeader, with: "stale")
        #expect(outcomes.all.isEmpty)
        #expect(coalescer.inFlight == 1)

        coalescer.complete(key: "k", token: newLeader, with: "fresh")
        #expect(try await newFollower.get() == "fresh")
        #expect(coalescer.inFlight == 0)
    }

    @Test("abandoning a key with no fill is harmless")
    func abandonUnknownKey() {
        let coalescer = RequestCoalescer<String>()
        coalescer.abandon(key: "k", with: "x")
        #expect(coalescer.inFlight == 0)
    }

    @Test("lead starts a background fill only when none is in flight")
    func leadOnlyWhenIdle() async throws {
        let coalescer = RequestCoalescer<String>()
        let background = try #require(coalescer.lead(key: "k"))
        #expect(coalescer.inFlight == 1)
        #expect(coalescer.lead(key: "k") == nil, "a second refresh does not start")
        // A request arriving meanwhile waits for the background fill.
        let follower = try #require(future(coalescer.join(key: "k", on: loop)))
        coalescer.complete(key: "k", token: background, with: "refreshed")
        #expect(try await follower.get() == "refreshed")

        let leader = try #require(token(coalescer.join(key: "k", on: loop)))
        #expect(coalescer.lead(key: "k") == nil, "no refresh while a request fills")
        coalescer.complete(key: "k", token: leader, with: "done")
        #expect(coalescer.lead(key: "k") != nil)
    }
}
