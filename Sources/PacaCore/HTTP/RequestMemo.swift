/// What a responder worked out from a request head, kept for the connection's next request
/// with the same head (`ProxyRequest.headSerial`): the listener hands every request of a
/// connection the same memo. Used only on the connection's event loop, by the synchronous part
/// of `ProxyResponder.respond`, which reads it and, for a head it has not seen, replaces it.
public final class RequestMemo: @unchecked Sendable {
    /// The head serial `value` was worked out for; 0: none.
    public var serial: UInt64 = 0
    /// What `value` was worked out under (the responder's settings, held so that no other
    /// object can take its address): another one makes `value` stale.
    public var owner: AnyObject?
    /// The responder's own record of the head.
    public var value: AnyObject?

    public init() {}
}
