import NIOCore
import PacaCore
import Testing

/// An origin that is never asked: the requests of a test using it are answered by the engine
/// itself, and a request that reaches it fails the test.
struct NoOrigin: OriginClient {
    func stream(_ request: OriginRequest, on eventLoop: any EventLoop) -> EventLoopFuture<OriginStreamingResponse> {
        Issue.record("the origin was asked")
        return eventLoop.makeFailedFuture(CancellationError())
    }
}
