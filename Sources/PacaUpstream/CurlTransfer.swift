import CCurl
import Foundation
import NIOCore
import PacaCore
import PacaHTTPCaching
import Synchronization

/// One exchange: the easy handle and what has arrived so far. Touched only on the transfer
/// thread once submitted.
final class Transfer: @unchecked Sendable {
    // Safe: created on a caller's thread, then handed to the transfer thread through the
    // inbox's lock and used only there; `promise` and `body` are themselves thread-safe.
    let request: OriginRequest
    let promise: EventLoopPromise<OriginStreamingResponse>
    let body: BodyStream
    let clock: any WallClock
    private(set) var easy: UnsafeMutableRawPointer?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var requestTime: UnixMillis = 0
    private let allocator = ByteBufferAllocator()
    var status = 0
    var headers: [HTTPField] = []
    var headDelivered = false
    var received = 0
    var exceededLimit = false
    /// Receiving is paused because the consumer is a window behind.
    var receivePaused = false
    /// Sending is paused because the client has not sent more of the request body yet.
    var sendPaused = false
    /// Monotonic time of the last progress (start, a byte either way, a resume).
    var lastActivity: UInt64 = 0
    let idleLimit: UInt64
    let onPause: @Sendable () -> Void

    init(
        request: OriginRequest, promise: EventLoopPromise<OriginStreamingResponse>, body: BodyStream, clock: any WallClock,
        onPause: @escaping @Sendable () -> Void
    ) {
        self.onPause = onPause
        self.request = request
        self.promise = promise
        self.body = body
        self.clock = clock
        self.idleLimit = UInt64(max(1, request.totalTimeout.milliseconds)) * 1_000_000
    }

    func start(now: UnixMillis) {
        requestTime = now
        lastActivity = Monotonic.nanoseconds()
        guard let easy = curl_easy_init() else { return }
        self.easy = easy
        let me = Unmanaged.passUnretained(self).toOpaque()
        _ = paca_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = paca_curl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
        _ = paca_curl_easy_setopt_long(easy, CURLOPT_PATH_AS_IS, 1)
        _ = paca_curl_easy_setopt_long(easy, CURLOPT_TCP_NODELAY, 1)
        _ = paca_curl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        _ = paca_curl_easy_setopt_long(easy, CURLOPT_BUFFERSIZE, 64 << 10)
        // Bodies pass byte for byte (RFC 9110 §8.4): libcurl never decodes a content coding
        // (no CURLOPT_ACCEPT_ENCODING is ever set, and decoding is off besides), so gzip, br,
        // zstd or an unknown coding reach the client and the cache exactly as the origin sent
        // them. Transfer codings (chunked) are hop-by-hop and are removed (RFC 9112 §7).
        _ = paca_curl_easy_setopt_long(easy, CURLOPT_HTTP_CONTENT_DECODING, 0)
        _ = paca_curl_easy_setopt_long(easy, CURLOPT_HTTP_TRANSFER_DECODING, 1)
        _ = paca_curl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, max(1, Int(request.connectTimeout.milliseconds)))
        // No CURLOPT_TIMEOUT: a body may take as long as the client takes to read it. The loop
        // fails a transfer that makes no progress for `totalTimeout` while neither side is
        // paused by us (as nginx's proxy_read_timeout / proxy_send_timeout).
        if request.maxResponseBytes < Int.max {
            _ = paca_curl_easy_setopt_off_t(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(request.maxResponseBytes))
        }
        request.url.withCString { _ = paca_curl_easy_setopt_pointer(easy, CURLOPT_URL, $0) }
        // Origins are reached directly: an http_proxy in the environment must not reroute them.
        "".withCString { _ = paca_curl_easy_setopt_pointer(easy, CURLOPT_PROXY, $0) }
        "http,https".withCString { _ = paca_curl_easy_setopt_pointer(easy, CURLOPT_PROTOCOLS_STR, $0) }
        _ = paca_curl_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, transferWriteCallback)
        _ = paca_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, me)
        _ = paca_curl_easy_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, transferHeaderCallback)
        _ = paca_curl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, me)

        var sawAccept = false
        var sawContentType = false
        for field in request.headers {
            let lower = field.name.lowercased()
            if lower == "accept" { sawAccept = true }
            if lower == "content-type" { sawContentType = true }
            // `Host` is sent as given (preserve_host); libcurl uses it instead of the URL's.
            if lower == "content-length" || lower == "expect" || lower == "transfer-encoding" { continue }
            appendHeader(field.value.isEmpty ? "\(field.name);" : "\(field.name): \(field.value)")
        }
        // Remove what libcurl would add on its own, so the origin sees only what the client sent.
        appendHeader("Expect:")
        if !sawAccept { appendHeader("Accept:") }
        if !sawContentType { appendHeader("Content-Type:") }

        let method = request.method.uppercased()
        switch method {
        case "GET":
            _ = paca_curl_easy_setopt_long(easy, CURLOPT_HTTPGET, 1)
        case "HEAD":
            _ = paca_curl_easy_setopt_long(easy, CURLOPT_NOBODY, 1)
        default:
            method.withCString { _ = paca_curl_easy_setopt_pointer(easy, CURLOPT_CUSTOMREQUEST, $0) }
        }
        if let upload = request.upload, method != "GET", method != "HEAD" {
            _ = paca_curl_easy_setopt_long(easy, CURLOPT_POST, 1)
            _ = paca_curl_easy_setopt_data_callback(easy, CURLOPT_READFUNCTION, transferReadCallback)
            _ = paca_curl_easy_setopt_pointer(easy, CURLOPT_READDATA, me)
            if let length = upload.contentLength {
                _ = paca_curl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(length))
            } else {
                // Unknown length: libcurl sends it chunked.
                _ = paca_curl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, -1)
                appendHeader("Transfer-Encoding: chunked")
            }
        } else if method == "POST" || method == "PUT" || method == "PATCH" {
            _ = paca_curl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, 0)
            "".withCString { _ = paca_curl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, $0) }
        }
        _ = paca_curl_easy_setopt_pointer(easy, CURLOPT_HTTPHEADER, headerList)
    }

    private func appendHeader(_ line: String) {
        headerList = line.withCString { curl_slist_append(headerList, $0) }
    }

    /// Continues a paused transfer (both directions; a side with nothing to do pauses again).
    func resume() {
        guard let easy, receivePaused || sendPaused else { return }
        receivePaused = false
        sendPaused = false
        lastActivity = Monotonic.nanoseconds()
        curl_easy_pause(easy, paca_curlpause_cont())
    }

    /// Whether the transfer has made no progress for too long while not paused by us.
    func isIdleTooLong(now: UInt64) -> Bool {
        guard !receivePaused, !sendPaused else { return false }
        return now > lastActivity && now - lastActivity > idleLimit
    }

    var timeoutError: OriginError {
        .timedOut(
            headDelivered ? "no data from origin for \(request.totalTimeout)" : "no answer from origin within \(request.totalTimeout)")
    }

    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        if !headDelivered { deliverHead() }
        if received + bytes.count > request.maxResponseBytes {
            exceededLimit = true
            return 0
        }
        if body.isCancelled { return 0 }
        guard body.hasRoom() else {
            receivePaused = true
            onPause()
            return paca_curl_writefunc_pause()
        }
        var buffer = allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        body.write(buffer)
        received += bytes.count
        lastActivity = Monotonic.nanoseconds()
        return bytes.count
    }

    func sendBody(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let upload = request.upload else { return 0 }
        switch upload.read(into: buffer) {
        case .bytes(let count):
            lastActivity = Monotonic.nanoseconds()
            return count
        case .wouldBlock:
            sendPaused = true
            return paca_curl_readfunc_pause()
        case .end:
            return 0
        case .failed:
            return paca_curl_readfunc_abort()
        }
    }

    func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        guard !headDelivered else { return }  // trailers
        lastActivity = Monotonic.nanoseconds()
        var count = bytes.count
        while count > 0, bytes[count - 1] == 0x0A || bytes[count - 1] == 0x0D { count -= 1 }
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[..<count]), as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            // A new status line (after a 1xx block, say): only the last block's fields are the
            // final response's, so an interim block's (a 103's `Link`) never leak into it.
            headers.removeAll(keepingCapacity: true)
            let parts = line.split(separator: " ", maxSplits: 2)
            if parts.count >= 2, let code = Int(parts[1]) { status = code }
            return
        }
        guard !line.isEmpty else {
            // The end of a header block: a final one completes the head; an interim one is
            // relayed when the request asks for it (RFC 9110 §15.2) and then forgotten.
            if status >= 200 {
                deliverHead()
            } else if let onInterim = request.onInterim, let interim = InterimResponse.relayable(status: status, headers: headers) {
                onInterim(interim)
            }
            return
        }
        if let first = line.first, first == " " || first == "\t", !headers.isEmpty {
            // obs-fold: RFC 9112 §5.2 lets a proxy replace it with a space.
            headers[headers.count - 1].value += " " + line.trimmingSpaces()
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = String(line[..<colon])
        let value = String(line[line.index(after: colon)...].trimmingSpaces())
        headers.append(HTTPField(name: name, value: value))
    }

    private func deliverHead() {
        guard !headDelivered else { return }
        headDelivered = true
        promise.succeed(
            OriginStreamingResponse(status: status, headers: headers, body: body, requestTime: requestTime, responseTime: clock.now()))
    }

    func complete(code: CURLcode, now: UnixMillis) {
        if code == CURLE_OK, status >= 200 {
            deliverHead()
            finish(.success(()))
            return
        }
        let detail = String(cString: curl_easy_strerror(code))
        let error: OriginError
        if exceededLimit || code == CURLE_FILESIZE_EXCEEDED {
            error = .responseTooLarge(limit: request.maxResponseBytes)
        } else if code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST {
            error = .connectFailed(detail)
        } else if status == 0, code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR || code == CURLE_GOT_NOTHING {
            // The origin never answered: the connection broke before a status line arrived (a
            // pooled connection to an origin that went away, a crash between accept and reply).
            // As with a refused connect, nothing was reached (`OriginError.isUnreachable`).
            error = .connectFailed("connection lost before any answer: \(detail)")
        } else if code == CURLE_OPERATION_TIMEDOUT {
            error = .timedOut(detail)
        } else if code == CURLE_OK {
            error = .protocolError("no final status from origin")
        } else {
            error = .protocolError(detail)
        }
        finish(.failure(error))
    }

    /// Fails a transfer that never started.
    func fail(_ error: OriginError) {
        finish(.failure(error))
    }

    func finish(_ result: Result<Void, OriginError>) {
        if let easy {
            curl_easy_cleanup(easy)
            self.easy = nil
        }
        if let headerList {
            curl_slist_free_all(headerList)
            self.headerList = nil
        }
        switch result {
        case .success:
            body.finish(.success(()))
        case .failure(let error):
            if headDelivered {
                body.finish(.failure(error))
            } else {
                headDelivered = true
                promise.fail(error)
                body.finish(.failure(error))
            }
            request.upload?.finish(success: false)
        }
    }
}

private let transferWriteCallback: paca_curl_data_callback = { buffer, size, count, userdata in
    guard let userdata else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let total = size * count
    guard let buffer, total > 0 else { return total }
    return transfer.receiveBody(UnsafeRawBufferPointer(start: buffer, count: total))
}

private let transferReadCallback: paca_curl_data_callback = { buffer, size, count, userdata in
    guard let userdata else { return paca_curl_readfunc_abort() }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let total = size * count
    guard let buffer, total > 0 else { return 0 }
    return transfer.sendBody(into: UnsafeMutableRawBufferPointer(start: buffer, count: total))
}

private let transferHeaderCallback: paca_curl_data_callback = { buffer, size, count, userdata in
    guard let userdata else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let total = size * count
    if let buffer, total > 0 {
        transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: buffer, count: total))
    }
    return total
}
