unrecoverable
Content-Length: 18446744073709551615

