recoverable
Content-Length: -1

