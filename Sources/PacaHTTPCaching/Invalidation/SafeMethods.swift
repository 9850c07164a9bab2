/// Methods a cache treats as safe (RFC 9110 §9.2.1); any other method is unsafe.
public let safeMethods: Set<String> = ["GET", "HEAD", "OPTIONS", "TRACE"]
