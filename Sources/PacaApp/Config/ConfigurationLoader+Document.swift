import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension ConfigurationLoader {
    /// The bytes of the file at `path`; a failure says why, in the system's words (`No such file
    /// or directory`, `Permission denied`, `Is a directory`).
    static func readFile(_ path: String) throws(ConfigurationError) -> Data {
        func failure(_ code: Int32) -> ConfigurationError {
            ConfigurationError(file: path, path: "$", message: "cannot read file: \(String(cString: strerror(code)))")
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure(errno) }
        defer { close(descriptor) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { return data }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure(errno)
            }
            data.append(contentsOf: buffer[..<count])
        }
    }

    /// The JSON document in `data`, parsed strictly: a syntax error names its line and column, a
    /// duplicate key or a trailing comma is refused at its JSON path.
    static func parseJSON(_ data: Data, file: String) throws(ConfigurationError) -> JSONValue {
        do {
            return try StrictJSONParser.parse(Array(data))
        } catch {
            let position = "line \(error.line), column \(error.column)"
            if error.isSyntaxError {
                throw ConfigurationError(file: file, path: "$", message: "not valid JSON at \(position): \(error.message)")
            }
            throw ConfigurationError(file: file, path: error.path, message: "\(error.message) at \(position)")
        }
    }
}
