import NIOCore
import NIOHTTP1
import PacaAccessLog
import PacaCore
import PacaHTTPCaching
import PacaStorage

extension ProxyEngine {
    /// Answers from a stored entry: the stored header block and body, shared, plus `Age` and
    /// `Cache-Status`; or 304 when the client's own validators match (RFC 9110 §13.1), or 206/416
    /// for a `Range` request on a stored 200 (RFC 9110 §14; several ranges as
    /// `multipart/byteranges`, §14.6).
    func serveStored(
        _ exchange: Exchange, entry: CacheEntry, ttlMillis: Int64, now: UnixMillis, outcome: AccessLogRecord.CacheOutcome,
        cacheStatus: String? = nil, tier: String = "l1", file: DiskFileBody? = nil, originMillis: Double? = nil,
        background: Bool = false
    ) -> ProxyResponse {
        if let file { return serveStoredFile(exchange, file: file, ttlMillis: ttlMillis, now: now, outcome: outcome, tier: tier) }
        var headers = HTTPHeaders()
        let ttl = ttlMillis >= 0 ? ttlMillis / 1000 : -((-ttlMillis + 999) / 1000)
        var status = HTTPResponseStatus(statusCode: entry.status)
        var body: ByteBuffer? = entry.body
        var headerBlock = entry.headerBlock
        let requestHeaders = exchange.request.head.headers
        if !exchange.present.isDisjoint(with: .conditional),
            shouldAnswerNotModified(
                requestHeaders: exchange.requestFields, etag: entry.etag, lastModified: entry.lastModified,
                date: entry.headers.first("date"))
        {
            status = .notModified
            body = nil
        } else if entry.status == 200, exchange.request.head.method.isGET, exchange.present.contains(.range) {
            switch evaluateRange(
                requestHeaders.first(name: "range"), ifRange: requestHeaders.first(name: "if-range"), etag: entry.etag,
                lastModified: entry.lastModified, contentLength: entry.body.readableBytes)
            {
            case .full:
                break
            case .satisfiable(let ranges):
                // One range: its bytes; several: multipart/byteranges (RFC 9110 §14.6), whose
                // Content-Type replaces the stored one in the header block.
                status = .partialContent
                let stored = entry.body
                let content = Self.partialContent(
                    ranges, completeLength: stored.readableBytes, contentType: entry.headers.first("content-type")
                ) { range in stored.getSlice(at: stored.readerIndex + range.lowerBound, length: range.count) ?? ByteBuffer() }
                body = content.body
                for (name, value) in content.fields { headers.add(name: name, value: value) }
                if content.replacesContentType { headerBlock = Self.headerBlock(entry.headers, excluding: ["content-type"]) }
            case .unsatisfiable:
                status = .rangeNotSatisfiable
                body = nil
                headers.add(name: "Content-Range", value: "bytes */\(entry.body.readableBytes)")
            }
        }
        // The one reading of the clock for the log's duration and the route's histogram.
        var answeredAt: NIODeadline?
        if let accessLog, !exchange.warming {
            let now = NIODeadline.now()
            answeredAt = now
            let bytes = exchange.isHead ? 0 : body?.readableBytes ?? 0
            let loggedTier = outcome == .hit || outcome == .stale ? tier : ""
            let keyHash = entry.keyHash
            // A head this connection sent before, answered by the same route, with the client
            // its peer: the record shares the strings of the last one queued for them. One read
            // of the trust flag decides both that and the whole record's client.
            let trusting = trustsAProxy.load(ordering: .relaxed)
            let head = trusting || originMillis != nil || background ? 0 : exchange.request.headSerial
            if head == 0
                || !accessLog.appendRepeat(
                    head: head, route: ObjectIdentifier(exchange.route), timestamp: exchange.startTime, status: Int(status.code),
                    bytes: bytes,
                    cache: outcome, tier: loggedTier, ttl: Int(ttl), keyHash: keyHash,
                    nanoseconds: (now - exchange.startUptime).nanoseconds)
            {
                // The entry's own key: one entry logs one key, whether it was a miss or a hit. Built
                // in the call, so the record moves into the log rather than being copied.
                var whole = record(
                    exchange, status: Int(status.code), bytes: bytes, cache: outcome, tier: loggedTier, ttl: Int(ttl),
                    collapsed: false, originMillis: originMillis, key: entry.key, keyHash: keyHash,
                    client: trusting ? nil : exchange.request.peer, at: now)
                whole.background = background
                if head == 0 { accessLog.append(whole) } else { accessLog.append(whole, head: head, route: exchange.route) }
            }
        }
        let sendfile = configuration.sendfile
        // A client's whole 200 of a large body (a prewarmer's request writes nothing to a socket).
        var bodyFile: BodyFile?
        if status.code == 200, !exchange.isHead, !exchange.warming, sendfile.minBodyBytes > 0,
            entry.body.readableBytes >= sendfile.minBodyBytes, body?.readableBytes == entry.body.readableBytes
        {
            bodyFile = entry.bodyFile(budget: sendfileBudget)
        }
        // Built whole and returned, not built and then set field by field: a hit's answer is then
        // not copied on its way out (two copies and destroys of the struct, about 660 instructions).
        return ProxyResponse(
            status: status, headerBlock: headerBlock, headers: headers, body: body, omitBody: exchange.isHead,
            age: entry.timing.currentAge(at: now) / 1000,
            cacheStatus: exchange.route.cacheStatus ? cacheStatus.map(CacheStatusValue.text) ?? .hit(ttl: ttl, tier: tier) : nil,
            bodyFile: bodyFile, answeredAt: answeredAt)
    }

    /// Answers from a large L2 entry whose body streams from its file: the stored fields, `Age`
    /// and `Cache-Status`, or 304 when the client's validators match. One range is answered with
    /// a 206 of that part of the file; several with the whole body (RFC 9110 §14.2 allows it).
    func serveStoredFile(
        _ exchange: Exchange, file: DiskFileBody, ttlMillis: Int64, now: UnixMillis, outcome: AccessLogRecord.CacheOutcome, tier: String
    ) -> ProxyResponse {
        let entry = file.entry
        let ttl = ttlMillis >= 0 ? ttlMillis / 1000 : -((-ttlMillis + 999) / 1000)
        var status = HTTPResponseStatus(statusCode: entry.status)
        let requestHeaders = exchange.request.head.headers
        var headers = HTTPHeaders()
        var noBody = false
        if !exchange.present.isDisjoint(with: .conditional),
            shouldAnswerNotModified(
                requestHeaders: exchange.requestFields, etag: entry.etag, lastModified: entry.lastModified,
                date: entry.headers.first("date"))
        {
            status = .notModified
            noBody = true
        } else if entry.status == 200, exchange.request.head.method.isGET, exchange.present.contains(.range) {
            // As from memory (`serveStored`), except that several ranges get the whole 200:
            // RFC 9110 §14.2 lets a server ignore Range, and a file part is sent as one piece.
            switch evaluateRange(
                requestHeaders.first(name: "range"), ifRange: requestHeaders.first(name: "if-range"), etag: entry.etag,
                lastModified: entry.lastModified, contentLength: file.length)
            {
            case .satisfiable(let ranges) where ranges.count == 1:
                status = .partialContent
                file.restrict(to: ranges[0].lowerBound..<(ranges[0].upperBound + 1))
                headers.add(name: "Content-Range", value: "bytes \(ranges[0].lowerBound)-\(ranges[0].upperBound)/\(file.length)")
            case .unsatisfiable:
                status = .rangeNotSatisfiable
                noBody = true
                headers.add(name: "Content-Range", value: "bytes */\(file.length)")
            case .full, .satisfiable:
                break
            }
        }
        if let accessLog, !exchange.warming {
            accessLog.append(
                record(
                    exchange, status: Int(status.code), bytes: exchange.isHead || noBody ? 0 : file.sent.count, cache: outcome,
                    tier: tier, ttl: Int(ttl), collapsed: false, originMillis: nil, key: entry.key))
        }
        var response = ProxyResponse(status: status, headerBlock: entry.headerBlock, headers: headers, omitBody: exchange.isHead)
        if noBody {
            file.cancel()
        } else {
            response.stream = file
            response.streamLength = file.sent.count
        }
        response.age = entry.timing.currentAge(at: now) / 1000
        if exchange.route.cacheStatus { response.cacheStatus = .hit(ttl: ttl, tier: tier) }
        return response
    }
}
