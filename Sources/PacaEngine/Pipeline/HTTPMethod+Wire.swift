import NIOHTTP1

extension HTTPMethod {
    /// The method as it is spelled on the wire. SwiftNIO names SSDP's `M-SEARCH` `MSEARCH` in
    /// `rawValue`; forwarding that would send an origin a method it never heard of, and a
    /// route's `methods: ["M-SEARCH"]` would refuse the real one.
    var wireName: String {
        switch self {
        // The methods of nearly every request, without `rawValue`'s general path.
        case .GET: "GET"
        case .HEAD: "HEAD"
        case .MSEARCH: "M-SEARCH"
        default: rawValue
        }
    }
}
