recoverable
Content-Length: 84

{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"contentChanges":null}}