use windows_sys::Win32::Networking::WinSock::*;
fn a(n: u32) -> i32 { if n == 0 { unsafe { WSAStartup(0x202, &mut d) } } else { b(n - 1) } }
fn b(n: u32) -> i32 { let r = a(n); if r != 0 { return r; } unsafe { WSACleanup() }; a(n) }
pub fn main() { loop { if a(3) == 0 { break; } } 'x: loop { continue 'x; } }
