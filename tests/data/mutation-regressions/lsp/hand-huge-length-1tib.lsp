unrecoverable
Content-Length: 1099511627776

