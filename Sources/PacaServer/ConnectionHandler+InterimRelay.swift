import NIOCore
import PacaCore

extension ConnectionHandler {
    /// The connection's interim sink: callable from any thread, the write hops to the loop.
    final class InterimRelay: InterimResponseSink {
        private let target: NIOLoopBound<(ConnectionHandler, ChannelHandlerContext)>

        init(_ target: NIOLoopBound<(ConnectionHandler, ChannelHandlerContext)>) {
            self.target = target
        }

        func writeInterim(_ interim: InterimResponse, forRequest number: UInt64) {
            let target = self.target
            target.eventLoop.execute {
                let (handler, context) = target.value
                handler.writeInterim(interim, for: number, context: context)
            }
        }
    }
}
