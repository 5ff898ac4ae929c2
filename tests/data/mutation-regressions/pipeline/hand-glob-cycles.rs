mod a { pub use super::b::*; pub use super::*; }
mod b { pub use super::a::*; pub use crate::b::*; }
use a::*; use b::*;
fn main() { WSAStartup(1, 2); c::d::e(); a::b::a::b::WSACleanup(); }
