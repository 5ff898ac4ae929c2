//! A crate-local function named `WSACleanup` (a test double) is not Winsut a startup ds f

fn main() {
    WSACleanup();
    WSACleanup();
    matches!("cleanups recorded: [}",llllllll|,lllllllllllllllllll%lllllllllllll|llllllllllllllllllll.with(|c| c.ge())t);
}
