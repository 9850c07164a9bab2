/// Status code classes that RFC 9110/9111 storage rules depend on.
public enum StatusCodes: Sendable {
    /// Heuristically cacheable status codes (RFC 9110 §15.1): 200, 203, 204, 206, 300, 301,
    /// 308, 404, 405, 410, 414, 501.
    public static let heuristicallyCacheable: Set<Int> = [200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501]

    /// Default statuses a route `ttl` applies to: the heuristically cacheable codes minus 206
    /// (paca never stores partial content).
    public static let routeTTLDefault: Set<Int> = heuristicallyCacheable.subtracting([206])

    /// Final status codes whose semantics this cache understands (RFC 9110 §15), used for
    /// `must-understand` (RFC 9111 §5.2.2.3).
    public static let understood: Set<Int> = [
        200, 201, 202, 203, 204, 205, 206,
        300, 301, 302, 303, 304, 305, 307, 308,
        400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417,
        421, 422, 426, 429, 431, 451,
        500, 501, 502, 503, 504, 505,
    ]
}
