//! Test support for the Wine suite (`scripts/test-windows`): starts the same no-auth
//! `docker-registry` the Linux tests use, prints its `host:port` on stdout, and keeps it running
//! until its stdin closes or the script that started it ends, whichever comes first (Wine's
//! long-lived wineserver may inherit the pipe, so EOF alone could never come).

#[cfg(not(unix))]
fn main() {
    eprintln!("wine-registry runs on the Linux side of the Wine suite only");
    std::process::exit(2);
}

#[cfg(unix)]
fn main() {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use wslbox_test::registry::{Auth, Registry};

    static STDIN_CLOSED: AtomicBool = AtomicBool::new(false);

    let parent = std::os::unix::process::parent_id();
    let registry = Registry::start(Auth::None);
    let mut out = std::io::stdout();
    writeln!(out, "{}", registry.host()).expect("print the registry address");
    out.flush().expect("flush");
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        STDIN_CLOSED.store(true, Ordering::SeqCst);
    });
    while !STDIN_CLOSED.load(Ordering::SeqCst) && std::os::unix::process::parent_id() == parent {
        std::thread::sleep(Duration::from_millis(250));
    }
    drop(registry);
}
