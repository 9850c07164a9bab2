/// Parses plain trace lines: `key size [ttl]`, separated by spaces, tabs or commas. The key
/// has no separator in it; `size` is the object's bytes; `ttl`, when given, is in seconds of
/// the trace's clock (which, without timestamps, is the request count).
enum TraceLineParser {
    static func parse(_ line: UnsafeBufferPointer<UInt8>) -> LogRequest? {
        var scanner = ByteScanner(line)
        let isSeparator: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == UInt8(ascii: ",") }
        func skipSeparators() {
            while let byte = scanner.current, isSeparator(byte) { scanner.position += 1 }
        }
        skipSeparators()
        let key = scanner.token(until: isSeparator)
        skipSeparators()
        guard !key.isEmpty, let size = ByteScanner.integer(scanner.token(until: isSeparator)), size >= 0 else {
            return nil
        }
        skipSeparators()
        var ttl: Int?
        if !scanner.atEnd {
            guard let value = ByteScanner.integer(scanner.token(until: isSeparator)) else { return nil }
            ttl = value
            skipSeparators()
            guard scanner.atEnd else { return nil }
        }
        let text = ByteScanner.string(key)
        return LogRequest(method: "GET", url: text, bytes: size, ttl: ttl, key: text)
    }
}
