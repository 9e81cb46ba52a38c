//! A TCP proxy in front of PostgreSQL that loses answers: it forwards both directions
//! message by message, reads just enough of the wire protocol to tell which statement each
//! sync cycle (messages up to a `Sync` or a simple `Query`, ended by the server's
//! `ReadyForQuery`) executes, and can drop the connection once the transaction of a chosen
//! execution of a chosen statement has committed, without passing on the server's answer to
//! the cycle that committed it (the statement's own, in autocommit; else the `COMMIT`'s). The
//! client sees a dropped connection for a write that happened, as after a failover or a
//! pooler's idle timeout at the worst moment.
//!
//! It can also cut the client off as soon as an execution is sent (`cut_next`), while the
//! server goes on to run and commit it: the client's error then comes before the commit, as
//! when a pooler or the network resets a connection under a statement still running.
//!
//! Or it can hold an execution back (`hold_next`): the client is cut off once it has sent it,
//! the server gets it only when the test says so (`release`), as when a pooler or the network
//! holds a write after the client gave up on its connection, and delivers it late.
//!
//! Clients must connect with `sslmode=disable` (the proxy does not read TLS).

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{
        TcpListener, TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
};

pub struct PgProxy {
    pub port: u16,
    watch: Arc<Watch>,
}

/// What the proxy looks for, shared by every connection.
struct Watch {
    /// Text that names the statement (a fragment of its SQL).
    marker: String,
    /// Executions of the statement whose cycle ended, on every connection.
    executed: AtomicUsize,
    /// Drop the connection at the end of these executions (1-based, counted by `executed`).
    drop_at: Mutex<Vec<usize>>,
    /// The executions whose answers were lost: the message that ran each (`Bind` or `Query`).
    dropped: Mutex<Vec<Vec<u8>>>,
    /// Cut the client off once the next execution is sent.
    cut_next: AtomicBool,
    cut: AtomicUsize,
    /// Hold the next execution back until `released`.
    hold_next: AtomicBool,
    held: AtomicUsize,
    released: tokio::sync::watch::Sender<bool>,
    /// Held executions that, released, ran and committed (whatever they changed).
    held_committed: AtomicUsize,
}

impl PgProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: &str, marker: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let watch = Arc::new(Watch {
            marker: marker.to_string(),
            executed: AtomicUsize::new(0),
            drop_at: Mutex::new(Vec::new()),
            dropped: Mutex::new(Vec::new()),
            cut_next: AtomicBool::new(false),
            cut: AtomicUsize::new(0),
            hold_next: AtomicBool::new(false),
            held: AtomicUsize::new(0),
            released: tokio::sync::watch::Sender::new(false),
            held_committed: AtomicUsize::new(0),
        });
        let upstream = upstream.to_string();
        let shared = watch.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                tokio::spawn(relay(client, server, shared.clone()));
            }
        });
        Self { port, watch }
    }

    /// Drops the connection when the statement's `n`th execution from now has run.
    pub fn drop_after(&self, n: usize) {
        let at = self.executed() + n;
        self.watch.drop_at.lock().unwrap().push(at);
    }

    /// Cuts the client off as soon as it has sent what commits the statement's next execution
    /// (its Sync, by the extended protocol, as sqlx runs statements with parameters; or, in a
    /// transaction, its COMMIT); the server commits it after the client has seen its connection
    /// close.
    pub fn cut_next(&self) {
        self.watch.cut_next.store(true, Ordering::SeqCst);
    }

    /// Clients cut off by `cut_next`.
    pub fn cut(&self) -> usize {
        self.watch.cut.load(Ordering::SeqCst)
    }

    /// Holds the statement's next execution back (outside a transaction): the client is cut off
    /// once it has sent it, and the server gets it on `release`.
    pub fn hold_next(&self) {
        self.watch.hold_next.store(true, Ordering::SeqCst);
    }

    /// Executions held back so far.
    pub fn held(&self) -> usize {
        self.watch.held.load(Ordering::SeqCst)
    }

    /// Sends the held executions on to the server.
    pub fn release(&self) {
        self.watch.released.send_replace(true);
    }

    /// Held executions that, released, ran and committed (whatever they changed).
    pub fn held_committed(&self) -> usize {
        self.watch.held_committed.load(Ordering::SeqCst)
    }

    /// Executions of the statement so far (whose answers were passed on or dropped).
    pub fn executed(&self) -> usize {
        self.watch.executed.load(Ordering::SeqCst)
    }

    /// Connections dropped after the statement ran.
    pub fn dropped(&self) -> usize {
        self.watch.dropped.lock().unwrap().len()
    }

    /// Whether the `n`th lost execution (0-based) carried `bytes` in its parameters.
    pub fn lost_carried(&self, n: usize, bytes: &[u8]) -> bool {
        self.watch
            .dropped
            .lock()
            .unwrap()
            .get(n)
            .is_some_and(|m| m.windows(bytes.len()).any(|w| w == bytes))
    }
}

/// The message that executes the statement in a cycle (`Bind` or `Query`), if one does.
type Execution = Option<Vec<u8>>;

/// The cycles a connection has sent, oldest first, by what each executes.
#[derive(Default)]
struct Cycles {
    /// Closed by a `Sync` or a `Query`, not yet answered by `ReadyForQuery`.
    sent: VecDeque<Execution>,
    /// The cycle the client is still writing.
    open: Execution,
    /// A transaction is open, by the server's last `ReadyForQuery`.
    in_transaction: bool,
}

impl Cycles {
    /// What the cycle the server is answering executes: the oldest one sent, or the one still
    /// being written when all sent ones are answered.
    fn answering(&self) -> Execution {
        match self.sent.front() {
            Some(sent) => sent.clone(),
            None => self.open.clone(),
        }
    }
}

async fn relay(client: TcpStream, server: TcpStream, watch: Arc<Watch>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    // A second handle on the client's socket, to shut it down from the reading side.
    let Ok((cutter, client)) = client.into_std().and_then(|c| Ok((c.try_clone()?, c))) else {
        return;
    };
    let Ok(client) = TcpStream::from_std(client) else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // The server's `ReadyForQuery` after authentication answers no cycle of the client's.
    let cycles = Arc::new(Mutex::new(Cycles {
        sent: VecDeque::from([None]),
        open: None,
        in_transaction: false,
    }));
    let holds = Arc::new(AtomicBool::new(false));
    let up = tokio::spawn(client_to_server(
        client_read,
        server_write,
        cutter,
        watch.clone(),
        cycles.clone(),
        holds.clone(),
    ));
    server_to_client(server_read, client_write, &watch, &cycles, &holds).await;
    up.abort();
}

/// One message: its type byte (0 for the untyped startup message) and its whole bytes.
async fn message(read: &mut OwnedReadHalf, typed: bool) -> Option<(u8, Vec<u8>)> {
    let mut head = vec![0u8; if typed { 5 } else { 4 }];
    read.read_exact(&mut head).await.ok()?;
    let kind = if typed { head[0] } else { 0 };
    let at = head.len() - 4;
    let length = u32::from_be_bytes(head[at..].try_into().ok()?) as usize;
    let mut bytes = head;
    bytes.resize(at + length, 0);
    read.read_exact(&mut bytes[at + 4..]).await.ok()?;
    Some((kind, bytes))
}

/// The `n`th NUL-terminated string of a message's body.
fn c_string(body: &[u8], n: usize) -> String {
    body.split(|b| *b == 0)
        .nth(n)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .unwrap_or_default()
}

async fn client_to_server(
    mut read: OwnedReadHalf,
    mut write: OwnedWriteHalf,
    cutter: std::net::TcpStream,
    watch: Arc<Watch>,
    cycles: Arc<Mutex<Cycles>>,
    holds: Arc<AtomicBool>,
) {
    let mut statements: HashMap<String, bool> = HashMap::new();
    // The messages of a held execution, from its Bind to its Sync.
    let mut held: Option<Vec<u8>> = None;
    let mut typed = false;
    // The open transaction executed the statement: cut at its COMMIT rather than at the Sync.
    let mut marked_transaction = false;
    while let Some((kind, bytes)) = message(&mut read, typed).await {
        typed = true;
        let body = &bytes[5.min(bytes.len())..];
        let mut cut_now = false;
        {
            let mut cycles = cycles.lock().unwrap();
            if kind == b'S' && cycles.open.is_some() {
                if cycles.in_transaction {
                    marked_transaction = true;
                } else {
                    cut_now = watch.cut_next.swap(false, Ordering::SeqCst);
                }
            }
            if kind == b'Q' && marked_transaction {
                let query = c_string(body, 0).to_ascii_uppercase();
                if query.starts_with("COMMIT") || query.starts_with("ROLLBACK") {
                    marked_transaction = false;
                    cut_now = query.starts_with("COMMIT") && watch.cut_next.swap(false, Ordering::SeqCst);
                }
            }
            match kind {
                // Parse: statement name, then its SQL.
                b'P' => {
                    statements.insert(c_string(body, 0), c_string(body, 1).contains(&watch.marker));
                }
                // Bind: portal name, then the statement it executes.
                b'B' if statements.get(&c_string(body, 1)).copied().unwrap_or(false) => {
                    cycles.open = Some(bytes.clone());
                    if !cycles.in_transaction && watch.hold_next.swap(false, Ordering::SeqCst) {
                        held = Some(Vec::new());
                        holds.store(true, Ordering::SeqCst);
                    }
                }
                b'S' => {
                    let open = cycles.open.take();
                    cycles.sent.push_back(open);
                }
                b'Q' => {
                    let query = c_string(body, 0).contains(&watch.marker).then(|| bytes.clone());
                    let open = cycles.open.take().or(query);
                    cycles.sent.push_back(open);
                }
                _ => {}
            }
        }
        if let Some(held) = held.as_mut() {
            held.extend_from_slice(&bytes);
            if kind == b'S' {
                watch.held.fetch_add(1, Ordering::SeqCst);
                let _ = cutter.shutdown(std::net::Shutdown::Both);
                break;
            }
            continue;
        }
        if write.write_all(&bytes).await.is_err() {
            return;
        }
        if cut_now {
            // The server has the whole execution; the client hears its connection close now.
            watch.cut.fetch_add(1, Ordering::SeqCst);
            let _ = cutter.shutdown(std::net::Shutdown::Both);
        }
    }
    if let Some(held) = held {
        let mut released = watch.released.subscribe();
        if released.wait_for(|r| *r).await.is_ok() && write.write_all(&held).await.is_ok() {
            // The connection stays open until the server has answered (see `relay`).
            std::future::pending::<()>().await;
        }
    }
    let _ = write.shutdown().await;
}

async fn server_to_client(
    mut read: OwnedReadHalf,
    mut write: OwnedWriteHalf,
    watch: &Watch,
    cycles: &Mutex<Cycles>,
    holds: &AtomicBool,
) {
    // The answers of a transaction that executed the statement, held cycle by cycle until its
    // end (`ReadyForQuery` says whether a transaction is still open), and what executed it.
    let mut held: Vec<u8> = Vec::new();
    let mut executed: Execution = None;
    let mut failed = false;
    while let Some((kind, bytes)) = message(&mut read, true).await {
        // Notifications, notices and parameter changes belong to no cycle.
        if matches!(kind, b'A' | b'N' | b'S') {
            if !pass(&mut write, &bytes, holds).await {
                return;
            }
            continue;
        }
        if executed.is_none() {
            executed = cycles.lock().unwrap().answering();
        }
        if executed.is_none() {
            if kind == b'Z' {
                let mut cycles = cycles.lock().unwrap();
                cycles.sent.pop_front();
                cycles.in_transaction = bytes.get(5) != Some(&b'I');
            }
            if !pass(&mut write, &bytes, holds).await {
                return;
            }
            continue;
        }
        held.extend_from_slice(&bytes);
        // An error, or a transaction ended by ROLLBACK (a COMMIT after an error answers so too).
        failed |= kind == b'E' || (kind == b'C' && bytes[5..].starts_with(b"ROLLBACK"));
        if kind != b'Z' {
            continue;
        }
        {
            let mut cycles = cycles.lock().unwrap();
            cycles.sent.pop_front();
            cycles.in_transaction = bytes.get(5) != Some(&b'I');
        }
        // `I`: no transaction open any more; it committed unless an error or a ROLLBACK ended it.
        let ended = bytes.get(5) == Some(&b'I');
        if !ended || failed {
            if ended {
                (executed, failed) = (None, false);
            }
            if !pass(&mut write, &std::mem::take(&mut held), holds).await {
                return;
            }
            continue;
        }
        let execution = executed.take().unwrap_or_default();
        let n = watch.executed.fetch_add(1, Ordering::SeqCst) + 1;
        if holds.load(Ordering::SeqCst) {
            // The held execution has run: its connection closes now.
            watch.held_committed.fetch_add(1, Ordering::SeqCst);
            return;
        }
        let drop_now = {
            let mut drop_at = watch.drop_at.lock().unwrap();
            let due = drop_at.contains(&n);
            drop_at.retain(|at| *at != n);
            due
        };
        if drop_now {
            watch.dropped.lock().unwrap().push(execution);
            // Both sockets close as this task and the other end: the client never hears.
            return;
        }
        if !pass(&mut write, &std::mem::take(&mut held), holds).await {
            return;
        }
    }
}

/// Passes the server's `bytes` on to the client; `false` when the client is gone. A client cut
/// off with an execution held hears nothing more, and its connection to the server stays open
/// until the held execution has run.
async fn pass(write: &mut OwnedWriteHalf, bytes: &[u8], holds: &AtomicBool) -> bool {
    holds.load(Ordering::SeqCst) || write.write_all(bytes).await.is_ok()
}
