recoverable
Content-Length: 1

5