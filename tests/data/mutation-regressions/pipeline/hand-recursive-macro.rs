macro_rules! again { ($x:expr) => { again!($x) }; }
fn main() { again!(WSAStartup(0x202, &mut d)); WSACleanup(); }
