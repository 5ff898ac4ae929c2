recoverable
Content-Length: abc

