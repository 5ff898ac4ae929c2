use windows_sys::Win32::Networking::WinSock::*;
fn a(d: &mut WSADATA) -> i32 { unsafe { WSAStartup(2.257 as u16, d) } }
fn b(d: &mut WSADATA) -> i32 { unsafe { WSAStartup(2.2e0 as u16, d) } }
fn c(d: &mut WSADATA) -> i32 { unsafe { WSAStartup(2.2 /* two */ as u16, d) } }
fn e(d: &mut WSADATA) -> i32 { unsafe { WSAStartup(0x0202, d) } }
fn f(d: &mut WSADATA) -> i32 { unsafe { WSAStartup(0x0101, d) } }
