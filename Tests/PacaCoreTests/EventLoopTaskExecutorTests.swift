import NIOCore
import NIOEmbedded
import NIOPosix
import PacaCore
import Testing

@Suite("Tasks run on an event loop", .timeLimit(.minutes(1)))
struct EventLoopTaskExecutorTests {
    @Test("a task preferring a loop's executor runs on that loop, and resumes there after awaiting another loop's future")
    func taskStaysOnTheLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loop = group.next()
        let other = group.next()
        #expect(loop !== other)
        let executors = EventLoopTaskExecutors()
        let executor = try #require(executors.executor(for: loop))
        #expect(executors.executor(for: loop) === executor)
        let placements = await Task(executorPreference: executor) { () -> [Bool] in
            var placements = [loop.inEventLoop]
            let value = try? await other.submit { other.inEventLoop }.get()
            placements.append(value == true)
            placements.append(loop.inEventLoop)
            await Task.yield()
            placements.append(loop.inEventLoop)
            return placements
        }.value
        #expect(placements == [true, true, true, true])
        try await group.shutdownGracefully()
    }

    @Test("at most maxLoops loops get an executor, one each however often asked; past that the caller gets nil")
    func boundedRegistry() throws {
        let executors = EventLoopTaskExecutors()
        let loops = (0..<EventLoopTaskExecutors.maxLoops).map { _ in EmbeddedEventLoop() }
        for loop in loops {
            let first = try #require(executors.executor(for: loop))
            #expect(executors.executor(for: loop) === first)
            #expect(first.eventLoop === loop)
        }
        #expect(executors.executor(for: EmbeddedEventLoop()) == nil)
        #expect(executors.executor(for: loops[0]) != nil)
    }
}
