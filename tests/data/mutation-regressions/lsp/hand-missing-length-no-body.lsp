recoverable
Content-Type: text/plain

