recoverable
Content-Length: 31

{"jsonrpc":"2.0","id":100,"meth