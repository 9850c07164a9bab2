/// A configuration the proxy refuses to start with: the file, the JSON path of the bad field, and
/// what is wrong with it, as one line.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    /// The configuration file.
    public var file: String
    /// JSONPath of the offending field (`$.routes[1].ttl`), or `$` for the document.
    public var path: String
    /// What is wrong.
    public var message: String

    /// Creates an error.
    public init(file: String, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    /// `file: $.path: message`
    public var description: String { "\(file): \(path): \(message)" }
}
