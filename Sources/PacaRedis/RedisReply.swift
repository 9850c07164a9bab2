public import NIOCore

/// One Redis reply, copied out of hiredis' reply object.
public enum RedisReply: Sendable, Equatable {
    /// A bulk string (binary-safe).
    case bulk(ByteBuffer)
    /// A simple status such as `OK`.
    case status(String)
    /// An integer.
    case integer(Int64)
    /// A nil bulk or array.
    case null
    /// An array of replies.
    case array([RedisReply])
    /// An error reply such as `OOM command not allowed ...`.
    case error(String)

    /// The bulk string as UTF-8 text, or the status text.
    public var text: String? {
        switch self {
        case .bulk(let buffer): String(buffer: buffer)
        case .status(let status): status
        default: nil
        }
    }

    /// An error reply that says Redis ran out of memory (`maxmemory` with `noeviction`).
    var isOutOfMemory: Bool {
        if case .error(let message) = self { return message.hasPrefix("OOM") }
        return false
    }
}

/// Why a Redis operation did not get an answer. None of these carries the password.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Connecting (TCP or name resolution) failed.
    case connectFailed(String)
    /// `AUTH` was refused (`WRONGPASS`, `ERR invalid password`, ...), or the server wants one.
    case authenticationFailed(String)
    /// `SELECT` was refused.
    case selectFailed(String)
    /// No answer within the timeout.
    case timeout
    /// The connection broke while sending or reading.
    case io(String)
    /// The server answered something this client cannot use.
    case protocolError(String)
    /// The pool has been shut down.
    case shutDown
    /// Too many jobs were already waiting for a connection.
    case overloaded
    /// The circuit breaker is open: Redis was not asked.
    case breakerOpen

    /// One line saying what went wrong.
    public var description: String {
        switch self {
        case .connectFailed(let reason): "cannot connect to Redis: \(reason)"
        case .authenticationFailed(let reason): "Redis refused AUTH: \(reason)"
        case .selectFailed(let reason): "Redis refused SELECT: \(reason)"
        case .timeout: "Redis did not answer within the timeout"
        case .io(let reason): "Redis connection failed: \(reason)"
        case .protocolError(let reason): "unexpected Redis reply: \(reason)"
        case .shutDown: "the Redis tier has been shut down"
        case .overloaded: "too many Redis operations queued"
        case .breakerOpen: "the Redis circuit breaker is open"
        }
    }
}
