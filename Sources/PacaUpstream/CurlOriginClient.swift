import CCurl
import Foundation
public import Logging
public import NIOCore
public import PacaCore
import PacaHTTPCaching
import Synchronization

/// The origin client: one `curl_multi` loop on its own thread drives every transfer, so no NIO
/// event loop ever waits on the network. Connections to each origin are kept alive and reused by
/// the multi handle's connection cache. The head of an answer is handed back through an
/// `EventLoopPromise`; its body streams through a `BodyStream` with backpressure: when the
/// consumer (the client's socket, a disk write) falls a window behind, the transfer is paused
/// (`CURL_WRITEFUNC_PAUSE`) and continued (`curl_easy_pause`) once it has caught up. Request bodies
/// stream the same way from an `UploadStream` (`CURL_READFUNC_PAUSE`).
public final class CurlOriginClient: OriginClient {
    /// Settings of the client as a whole (per-request limits travel with each `OriginRequest`).
    public struct Configuration: Sendable {
        /// Connections kept open in the cache, over all origins. Default 256.
        public var maxCachedConnections: Int
        /// Most connections to one host at once; 0 is no limit. Default 0.
        public var maxConnectionsPerHost: Int
        /// Bytes of a response body one transfer may have in flight towards its consumer before
        /// it is paused. Default 256 KiB.
        public var bodyWindow: Int

        /// Creates a configuration with the defaults above.
        public init(maxCachedConnections: Int = 256, maxConnectionsPerHost: Int = 0, bodyWindow: Int = 256 << 10) {
            self.maxCachedConnections = maxCachedConnections
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.bodyWindow = bodyWindow
        }
    }

    /// What other threads ask of the transfer thread.
    struct Inbox {
        var pending: [Transfer] = []
        var resumes: [Transfer] = []
        var cancels: [Transfer] = []
        var stopping = false
    }

    final class InboxBox: Sendable {
        let state = Mutex(Inbox())
    }

    /// Pauses of origin transfers because their consumer fell a window behind (a slow client,
    /// a slow disk), and the callers waiting for a count of them.
    private final class PauseCounter: Sendable {
        let state = Mutex<(count: Int, waiters: [(Int, CheckedContinuation<Void, Never>)])>((0, []))

        func record() {
            let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.count += 1
                let count = state.count
                let ready = state.waiters.filter { $0.0 <= count }.map(\.1)
                state.waiters.removeAll { $0.0 <= count }
                return ready
            }
            for waiter in ready { waiter.resume() }
        }
    }

    private let pauseCounter = PauseCounter()

    /// How many times a transfer was paused because its consumer was a window behind.
    public var pauses: Int { pauseCounter.state.withLock { $0.count } }

    /// Returns once `count` pauses have happened in all (for stats and tests; the caller bounds
    /// the wait).
    public func waitForPauses(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = pauseCounter.state.withLock { state -> Bool in
                if state.count >= count { return true }
                state.waiters.append((count, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    private let inboxBox = InboxBox()
    private let multi: MultiHandle
    private let clock: any WallClock
    private let logger: Logger
    private let configuration: Configuration

    /// What happened to the multi handle, for tests of the shutdown ordering.
    enum MultiHandleEvent: Sendable, Equatable {
        /// A wake-up was asked for, before it takes the lock (where a thread may be preempted).
        case wakeupRequested
        /// `curl_multi_wakeup` ran.
        case wakeup
        /// A wake-up came after `curl_multi_cleanup` and touched nothing.
        case wakeupAfterCleanup
        /// `curl_multi_cleanup` ran.
        case cleanup
    }

    /// Starts the client and its transfer thread.
    public convenience init(
        configuration: Configuration = .init(), clock: any WallClock = SystemWallClock(), logger: Logger = Logger(label: "paca.upstream")
    ) {
        self.init(configuration: configuration, clock: clock, logger: logger, multiHandleObserver: nil)
    }

    /// Starts the client; `multiHandleObserver` is told of each wake-up and the cleanup of the
    /// multi handle, in their order (a test seam).
    init(
        configuration: Configuration = .init(), clock: any WallClock = SystemWallClock(), logger: Logger = Logger(label: "paca.upstream"),
        multiHandleObserver: (@Sendable (MultiHandleEvent) -> Void)?
    ) {
        CurlGlobal.initializeOnce()
        self.multi = MultiHandle(observer: multiHandleObserver)
        self.clock = clock
        self.logger = logger
        self.configuration = configuration
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

    /// Sends `request`; the future completes on `eventLoop` with the head or an `OriginError`,
    /// and the body follows through the response's stream.
    public func stream(_ request: OriginRequest, on eventLoop: any EventLoop) -> EventLoopFuture<OriginStreamingResponse> {
        let promise = eventLoop.makePromise(of: OriginStreamingResponse.self)
        let body = BodyStream(eventLoop: eventLoop, window: configuration.bodyWindow)
        let counter = pauseCounter
        let transfer = Transfer(request: request, promise: promise, body: body, clock: clock, onPause: { counter.record() })
        let inbox = inboxBox
        let multi = self.multi
        let resume: @Sendable () -> Void = { [weak transfer] in
            guard let transfer else { return }
            inbox.state.withLock { $0.resumes.append(transfer) }
            multi.wakeup()
        }
        body.setProducerHooks(
            onResume: resume,
            onCancel: { [weak transfer] in
                guard let transfer else { return }
                inbox.state.withLock { $0.cancels.append(transfer) }
                multi.wakeup()
            })
        request.upload?.setOnData(resume)
        let accepted = inboxBox.state.withLock { inbox -> Bool in
            guard !inbox.stopping else { return false }
            inbox.pending.append(transfer)
            return true
        }
        if accepted {
            multi.wakeup()
        } else {
            promise.fail(OriginError.shutDown)
        }
        return promise.futureResult
    }

    /// Fails transfers still in flight with `OriginError.shutDown` and stops the thread.
    public func shutdown() {
        let first = inboxBox.state.withLock { inbox -> Bool in
            defer { inbox.stopping = true }
            return !inbox.stopping
        }
        guard first else { return }
        multi.wakeup()
    }

    /// The loop that owns the multi handle; runs until `shutdown`.
    private struct TransferLoop {
        let multi: MultiHandle
        let inbox: InboxBox
        let clock: any WallClock

        func run() {
            var active: [UnsafeMutableRawPointer: Transfer] = [:]
            var lastSweep = Monotonic.nanoseconds()
            while true {
                let (incoming, resumes, cancels, stopping) = inbox.state.withLock {
                    inbox -> ([Transfer], [Transfer], [Transfer], Bool) in
                    defer {
                        inbox.pending.removeAll(keepingCapacity: true)
                        inbox.resumes.removeAll(keepingCapacity: true)
                        inbox.cancels.removeAll(keepingCapacity: true)
                    }
                    return (inbox.pending, inbox.resumes, inbox.cancels, inbox.stopping)
                }
                if stopping {
                    for transfer in incoming { transfer.fail(OriginError.shutDown) }
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
                for transfer in cancels {
                    guard let easy = transfer.easy, active[easy] === transfer else { continue }
                    active[easy] = nil
                    curl_multi_remove_handle(multi.pointer, easy)
                    transfer.finish(.failure(OriginError.protocolError("cancelled by the consumer")))
                }
                for transfer in resumes {
                    guard let easy = transfer.easy, active[easy] === transfer else { continue }
                    transfer.resume()
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
                let now = Monotonic.nanoseconds()
                if now - lastSweep >= 50_000_000 {
                    lastSweep = now
                    for (easy, transfer) in active where transfer.isIdleTooLong(now: now) {
                        active[easy] = nil
                        curl_multi_remove_handle(multi.pointer, easy)
                        transfer.finish(.failure(transfer.timeoutError))
                    }
                }
                var ready: Int32 = 0
                curl_multi_poll(multi.pointer, nil, 0, active.isEmpty ? 1000 : 100, &ready)
            }
        }
    }
}

/// A monotonic clock for transfer timeouts (wall time may jump).
enum Monotonic {
    static func nanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}

/// The multi handle, shared between the client (for wake-ups) and its loop.
private final class MultiHandle: Sendable {
    // `pointer` is used only on the transfer thread after init, apart from curl_multi_wakeup,
    // which libcurl allows from any thread but not after curl_multi_cleanup: `cleaned` (under its
    // lock) orders the two, so a wake-up never touches a freed handle.
    nonisolated(unsafe) let pointer: UnsafeMutableRawPointer
    private let cleaned = Mutex(false)
    /// Told of each wake-up asked for, then (under the lock, so in the order they happened) of
    /// what the wake-up did and of the cleanup. A test seam; `nil` in use.
    private let observer: (@Sendable (CurlOriginClient.MultiHandleEvent) -> Void)?

    init(observer: (@Sendable (CurlOriginClient.MultiHandleEvent) -> Void)?) {
        guard let pointer = curl_multi_init() else { fatalError("curl_multi_init failed: out of memory") }
        self.pointer = pointer
        self.observer = observer
    }

    func wakeup() {
        observer?(.wakeupRequested)
        cleaned.withLock { cleaned in
            guard !cleaned else {
                observer?(.wakeupAfterCleanup)
                return
            }
            curl_multi_wakeup(pointer)
            observer?(.wakeup)
        }
    }

    func cleanup() {
        cleaned.withLock { cleaned in
            guard !cleaned else { return }
            cleaned = true
            curl_multi_cleanup(pointer)
            observer?(.cleanup)
        }
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
            // A new status line (after 100 Continue, say): only the last block counts.
            headers.removeAll(keepingCapacity: true)
            let parts = line.split(separator: " ", maxSplits: 2)
            if parts.count >= 2, let code = Int(parts[1]) { status = code }
            return
        }
        guard !line.isEmpty else {
            // The end of a header block: a final one completes the head.
            if status >= 200 { deliverHead() }
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
