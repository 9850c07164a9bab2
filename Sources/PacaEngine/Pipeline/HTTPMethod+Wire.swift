import NIOHTTP1

extension HTTPMethod {
    /// The method as it is spelled on the wire. SwiftNIO names SSDP's `M-SEARCH` `MSEARCH` in
    /// `rawValue`; forwarding that would send an origin a method it never heard of, and a
    /// route's `methods: ["M-SEARCH"]` would refuse the real one.
    var wireName: String {
        if case .MSEARCH = self { return "M-SEARCH" }
        return rawValue
    }
}
