unrecoverable
Content-Length: 2
{}