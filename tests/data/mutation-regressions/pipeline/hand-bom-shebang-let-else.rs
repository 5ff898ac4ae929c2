#!/usr/bin/env run
fn main() { let Ok(x) = WSAStartup(0x202, &mut d) else { return }; match x { 0 | -1 => {}, y if y > 0 => { WSACleanup(); } _ => unreachable!() } }
