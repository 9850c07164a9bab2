import CCurl
import Foundation
public import Logging
public import NIOCore
public import PacaCore
import PacaHTTPCaching
import Synchronization

/// The origin client: one `curl_multi` loop on its own thread drives every transfer, so no NIO
/// event loop ever waits on the network. Connections to each origin are kept alive and reused by
/// the multi handle's connection cache. Completions are handed back as `EventLoopPromise`s, which
/// run their callbacks on the requesting connection's loop.
public final class CurlOriginClient: OriginClient {
    /// Settings of the client as a whole (per-request limits travel with each `OriginRequest`).
    public struct Configuration: Sendable {
        /// Connections kept open in the cache, over all origins. Default 256.
        public var maxCachedConnections: Int
        /// Most connections to one host at once; 0 is no limit. Default 0.
        public var maxConnectionsPerHost: Int

        /// Creates a configuration with the defaults above.
        public init(maxCachedConnections: Int = 256, maxConnectionsPerHost: Int = 0) {
            self.maxCachedConnections = maxCachedConnections
            self.maxConnectionsPerHost = maxConnectionsPerHost
        }
    }

    private struct Inbox {
        var pending: [Transfer] = []
        var stopping = false
    }

    private final class InboxBox: Sendable {
        let state = Mutex(Inbox())
    }

    private let inboxBox = InboxBox()
    /// The multi handle is used only on `thread`, except `curl_multi_wakeup`, which libcurl
    /// documents as callable from any thread.
    private let multi: MultiHandle
    private let clock: any WallClock
    private let logger: Logger
    private let stopped = InboxBox()

    /// Starts the client and its transfer thread.
    public init(
        configuration: Configuration = .init(), clock: any WallClock = SystemWallClock(), logger: Logger = Logger(label: "paca.upstream")
    ) {
        CurlGlobal.initializeOnce()
        self.multi = MultiHandle()
        self.clock = clock
        self.logger = logger
        _ = paca_curl_multi_setopt_long(multi.pointer, CURLMOPT_MAXCONNECTS, configuration.maxCachedConnections)
        _ = paca_curl_multi_setopt_long(multi.pointer, CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maxConnectionsPerHost)
        let thread = Thread { [multi, inboxBox, clock] in
            TransferLoop(multi: multi, inbox: inboxBox, clock: clock).run()
        }
        thread.name = "paca-curl"
        thread.start()
    }

    deinit {
        shutdown()
    }

    /// Sends `request`; the future completes on `eventLoop` with the whole response or an
    /// `OriginError`.
    public func fetch(_ request: OriginRequest, on eventLoop: any EventLoop) -> EventLoopFuture<OriginResponse> {
        let promise = eventLoop.makePromise(of: OriginResponse.self)
        let transfer = Transfer(request: request, promise: promise)
        let accepted = inboxBox.state.withLock { inbox -> Bool in
            guard !inbox.stopping else { return false }
            inbox.pending.append(transfer)
            return true
        }
        if accepted {
            curl_multi_wakeup(multi.pointer)
        } else {
            promise.fail(OriginError.shutDown)
        }
        return promise.futureResult
    }

    /// Fails transfers still in flight with `OriginError.shutDown` and stops the thread.
    public func shutdown() {
        let first = stopped.state.withLock { state -> Bool in
            defer { state.stopping = true }
            return !state.stopping
        }
        guard first else { return }
        inboxBox.state.withLock { $0.stopping = true }
        curl_multi_wakeup(multi.pointer)
    }

    /// The loop that owns the multi handle; runs until `shutdown`.
    private struct TransferLoop {
        let multi: MultiHandle
        let inbox: InboxBox
        let clock: any WallClock

        func run() {
            var active: [UnsafeMutableRawPointer: Transfer] = [:]
            while true {
                let (incoming, stopping) = inbox.state.withLock { inbox -> ([Transfer], Bool) in
                    defer { inbox.pending.removeAll(keepingCapacity: true) }
                    return (inbox.pending, inbox.stopping)
                }
                if stopping {
                    for transfer in incoming { transfer.promise.fail(OriginError.shutDown) }
                    for (easy, transfer) in active {
                        curl_multi_remove_handle(multi.pointer, easy)
                        transfer.finish(.failure(OriginError.shutDown))
                    }
                    multi.cleanup()
                    return
                }
                for transfer in incoming {
                    transfer.start(now: clock.now())
                    if let easy = transfer.easy, curl_multi_add_handle(multi.pointer, easy) == CURLM_OK {
                        active[easy] = transfer
                    } else {
                        transfer.finish(.failure(OriginError.protocolError("cannot start transfer")))
                    }
                }
                var running: Int32 = 0
                curl_multi_perform(multi.pointer, &running)
                var left: Int32 = 0
                while let message = curl_multi_info_read(multi.pointer, &left) {
                    guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                    let code = message.pointee.data.result
                    curl_multi_remove_handle(multi.pointer, easy)
                    if let transfer = active.removeValue(forKey: easy) {
                        transfer.complete(code: code, now: clock.now())
                    }
                }
                var ready: Int32 = 0
                curl_multi_poll(multi.pointer, nil, 0, 1000, &ready)
            }
        }
    }
}

/// The multi handle, shared between the client (for wake-ups) and its loop.
private final class MultiHandle: @unchecked Sendable {
    // Safe: after init, only the transfer thread uses `pointer`, apart from curl_multi_wakeup,
    // which libcurl allows from any thread; `cleanup` runs on the transfer thread as it exits.
    let pointer: UnsafeMutableRawPointer
    private var cleaned = false

    init() {
        guard let pointer = curl_multi_init() else { fatalError("curl_multi_init failed: out of memory") }
        self.pointer = pointer
    }

    func cleanup() {
        guard !cleaned else { return }
        cleaned = true
        curl_multi_cleanup(pointer)
    }
}

private enum CurlGlobal {
    static let initialized: Bool = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        return true
    }()

    static func initializeOnce() {
        _ = initialized
    }
}

/// One exchange: the easy handle and what has arrived so far. Touched only on the transfer
/// thread once submitted.
private final class Transfer: @unchecked Sendable {
    // Safe: created on a caller's thread, then handed to the transfer thread through the
    // inbox's lock and used only there; `promise` is itself thread-safe.
    let request: OriginRequest
    let promise: EventLoopPromise<OriginResponse>
    private(set) var easy: UnsafeMutableRawPointer?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var requestTime: UnixMillis = 0
    var status = 0
    var headers: [HTTPField] = []
    var body = ByteBuffer()
    var exceededLimit = false

    init(request: OriginRequest, promise: EventLoopPromise<OriginResponse>) {
        self.request = request
        self.promise = promise
    }

    func start(now: UnixMillis) {
        requestTime = now
        guard let easy = curl_easy_init() else { return }
        self.easy = easy
        let me = Unmanaged.passUnretained(self).toOpaque()
        _ = paca_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = paca_curl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
        _ = paca_curl_easy_setopt_long(easy, CURLOPT_PATH_AS_IS, 1)
        _ = paca_curl_easy_setopt_long(easy, CURLOPT_TCP_NODELAY, 1)
        _ = paca_curl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        _ = paca_curl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, max(1, Int(request.connectTimeout.milliseconds)))
        _ = paca_curl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, max(1, Int(request.totalTimeout.milliseconds)))
        _ = paca_curl_easy_setopt_off_t(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(request.maxResponseBytes))
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
            if lower == "content-length" || lower == "expect" { continue }
            appendHeader(field.value.isEmpty ? "\(field.name);" : "\(field.name): \(field.value)")
        }
        // Remove what libcurl would add on its own, so the origin sees only what the client sent.
        appendHeader("Expect:")
        if !sawAccept { appendHeader("Accept:") }
        if !sawContentType { appendHeader("Content-Type:") }
        _ = paca_curl_easy_setopt_pointer(easy, CURLOPT_HTTPHEADER, headerList)

        let method = request.method.uppercased()
        switch method {
        case "GET":
            _ = paca_curl_easy_setopt_long(easy, CURLOPT_HTTPGET, 1)
        case "HEAD":
            _ = paca_curl_easy_setopt_long(easy, CURLOPT_NOBODY, 1)
        default:
            method.withCString { _ = paca_curl_easy_setopt_pointer(easy, CURLOPT_CUSTOMREQUEST, $0) }
        }
        if let requestBody = request.body, method != "GET", method != "HEAD" {
            _ = paca_curl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(requestBody.readableBytes))
            requestBody.withUnsafeReadableBytes { bytes in
                _ = paca_curl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1))
            }
        } else if method == "POST" || method == "PUT" || method == "PATCH" {
            _ = paca_curl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, 0)
            "".withCString { _ = paca_curl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, $0) }
        }
    }

    private func appendHeader(_ line: String) {
        headerList = line.withCString { curl_slist_append(headerList, $0) }
    }

    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if body.readableBytes + bytes.count > request.maxResponseBytes {
            exceededLimit = true
            return false
        }
        body.writeBytes(bytes)
        return true
    }

    func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        var count = bytes.count
        while count > 0, bytes[count - 1] == 0x0A || bytes[count - 1] == 0x0D { count -= 1 }
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[..<count]), as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            // A new status line (after 100 Continue, say): only the last block counts.
            headers.removeAll(keepingCapacity: true)
            let parts = line.split(separator: " ", maxSplits: 2)
            if parts.count >= 2, let code = Int(parts[1]) { status = code }
            return
        }
        guard !line.isEmpty else { return }
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

    func complete(code: CURLcode, now: UnixMillis) {
        if code == CURLE_OK {
            let response = OriginResponse(status: status, headers: headers, body: body, requestTime: requestTime, responseTime: now)
            finish(.success(response))
            return
        }
        let detail = String(cString: curl_easy_strerror(code))
        let error: OriginError
        if exceededLimit || code == CURLE_FILESIZE_EXCEEDED {
            error = .responseTooLarge(limit: request.maxResponseBytes)
        } else if code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST {
            error = .connectFailed(detail)
        } else if code == CURLE_OPERATION_TIMEDOUT {
            error = .timedOut(detail)
        } else {
            error = .protocolError(detail)
        }
        finish(.failure(error))
    }

    func finish(_ result: Result<OriginResponse, any Error>) {
        if let easy {
            curl_easy_cleanup(easy)
            self.easy = nil
        }
        if let headerList {
            curl_slist_free_all(headerList)
            self.headerList = nil
        }
        promise.completeWith(result)
    }
}

private let transferWriteCallback: paca_curl_data_callback = { buffer, size, count, userdata in
    guard let userdata else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let total = size * count
    guard let buffer, total > 0 else { return total }
    return transfer.receiveBody(UnsafeRawBufferPointer(start: buffer, count: total)) ? total : 0
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
