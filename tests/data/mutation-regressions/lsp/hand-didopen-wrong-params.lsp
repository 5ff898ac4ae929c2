recoverable
Content-Length: 95

{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":5,"text":[]}}}