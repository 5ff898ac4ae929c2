unrecoverable
hello
