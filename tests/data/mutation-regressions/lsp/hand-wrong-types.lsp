recoverable
Content-Length: 36

{"jsonrpc":"2.0","id":{},"method":5}