//! The app's PostgreSQL connections over TCP have `TCP_NODELAY` set.
//!
//! sqlx 0.9.0 left Nagle's algorithm on (transact-rs/sqlx#4335): the tail of
//! a large statement then waited for the server's delayed ACK, about 40 ms
//! per batch. `vendor/sqlx-core` restores the option. This test needs no
//! PostgreSQL server: the app connects to a listener of the test's own, and
//! the test reads the option off the app's end of that connection (a copy of
//! the descriptor taken with `pidfd_getfd`, Linux ≥ 5.6), before any answer.

use std::{net::SocketAddr, time::Duration};

use debrief::config::{Secret, Settings};
use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};
use tokio::{io::AsyncReadExt, net::TcpListener};

#[tokio::test]
async fn postgres_connections_over_tcp_set_tcp_nodelay() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let data_dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        data_dir: data_dir.path().to_path_buf(),
        database_url: Some(Secret::new(format!(
            "postgres://debrief@127.0.0.1:{port}/debrief?sslmode=disable"
        ))),
        ..Settings::default()
    };
    // Never answered: the connection stays open, waiting for the server's
    // reply to its startup message, until the task is aborted.
    let connecting = tokio::spawn(async move { debrief::db::connect(&settings).await });

    let (mut server_end, client_addr) =
        tokio::time::timeout(Duration::from_secs(10), listener.accept())
            .await
            .expect("the app connects within 10 s")
            .expect("accept");
    // The startup message: the socket is set up and in the driver's hands.
    let mut first = [0u8; 8];
    server_end.read_exact(&mut first).await.expect("startup");

    let nodelay = nodelay_of_own_socket(client_addr).expect("the app's end of the connection");
    connecting.abort();
    assert!(
        nodelay,
        "the PostgreSQL connection to {client_addr} has TCP_NODELAY off: \
         Nagle's algorithm delays statements (see vendor/sqlx-core/VENDORED.md)"
    );
}

/// `TCP_NODELAY` of this process's socket bound to `local`, `None` if no
/// descriptor of this process is that socket.
fn nodelay_of_own_socket(local: SocketAddr) -> Option<bool> {
    let me = pidfd_open(getpid(), PidfdFlags::empty()).expect("pidfd_open of this process");
    for entry in std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .flatten()
    {
        let Some(number) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        // Descriptors closed meanwhile (other tests run in parallel) fail here.
        let Ok(fd) = pidfd_getfd(&me, number, PidfdGetfdFlags::empty()) else {
            continue;
        };
        let Ok(address) = rustix::net::getsockname(&fd) else {
            continue;
        };
        if SocketAddr::try_from(address).ok() == Some(local) {
            return Some(rustix::net::sockopt::tcp_nodelay(&fd).expect("getsockopt TCP_NODELAY"));
        }
    }
    None
}
