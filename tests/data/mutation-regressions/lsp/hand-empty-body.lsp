recoverable
Content-Length: 0

