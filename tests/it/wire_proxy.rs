//! A loopback proxy in front of a real PostgreSQL or MariaDB server that records the SQL of
//! every message a client sends: what the server saw, whatever the client logs about itself.
//! A test points a connection URL at [`WireProxy::port`] and reads [`WireProxy::events`].
//!
//! PostgreSQL (protocol 3.0): the untyped startup messages first (an `SSLRequest` or
//! `GSSENCRequest` is answered `N` by the proxy itself, so the session stays in clear text), then
//! typed messages: `Q` (simple query) and `P` (parse: an extended-protocol query, a `COPY`) are
//! recorded. MySQL: every packet is a 3-byte little-endian length and a sequence id; a command
//! starts a new sequence (id 0), so after the handshake a packet with id 0 whose first byte is
//! `COM_QUERY` (0x03) or `COM_STMT_PREPARE` (0x16) is recorded. The end of each client
//! connection is recorded too, so a test can tell when a session (and its transaction) ended.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The wire protocol the proxy reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Postgres,
    MySql,
}

/// What a client sent, in the order the proxy read it (across connections).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A statement: PostgreSQL `Q` or MySQL `COM_QUERY` (`prepared: false`); PostgreSQL `P` or
    /// MySQL `COM_STMT_PREPARE` (`prepared: true`). `connection` numbers the client connections
    /// from 0, in the order they were accepted.
    Sql { connection: usize, prepared: bool, sql: String },
    /// The client closed connection `connection` (PostgreSQL `Terminate`, or end of stream).
    Closed { connection: usize },
}

/// The proxy: listening on a loopback port until dropped.
pub struct WireProxy {
    port: u16,
    events: Arc<Mutex<Vec<Event>>>,
    stop: Arc<AtomicBool>,
}

impl WireProxy {
    /// Listens on a free loopback port and forwards every connection to `upstream` (e.g.
    /// `127.0.0.1:5432`).
    pub fn start(protocol: Protocol, upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy binds a loopback port");
        let port = listener.local_addr().expect("proxy address").port();
        let events = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, stopped, upstream) = (events.clone(), stop.clone(), upstream.to_string());
        std::thread::spawn(move || {
            let next = AtomicUsize::new(0);
            for client in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let connection = next.fetch_add(1, Ordering::SeqCst);
                let (log, upstream) = (log.clone(), upstream.clone());
                std::thread::spawn(move || serve(protocol, client, &upstream, connection, &log));
            }
        });
        Self { port, events, stop }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything recorded so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().expect("proxy log").clone()
    }

    /// The statements recorded so far, in order, as `(connection, prepared, sql)`.
    pub fn statements(&self) -> Vec<(usize, bool, String)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Sql { connection, prepared, sql } => Some((connection, prepared, sql)),
                Event::Closed { .. } => None,
            })
            .collect()
    }

    /// Forgets what was recorded (between two commands of one test).
    pub fn clear(&self) {
        self.events.lock().expect("proxy log").clear();
    }
}

impl Drop for WireProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Forwards one client connection both ways; records what the client sends.
fn serve(protocol: Protocol, mut client: TcpStream, upstream: &str, connection: usize, log: &Mutex<Vec<Event>>) {
    let Ok(mut server) = TcpStream::connect(upstream) else { return };
    let (Ok(mut to_client), Ok(mut from_server)) = (client.try_clone(), server.try_clone()) else { return };
    let answers = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Write);
    });
    let record = |event: Event| log.lock().expect("proxy log").push(event);
    let _ = match protocol {
        Protocol::Postgres => postgres_frontend(&mut client, &mut server, connection, &record),
        Protocol::MySql => mysql_frontend(&mut client, &mut server, connection, &record),
    };
    record(Event::Closed { connection });
    let _ = server.shutdown(Shutdown::Write);
    let _ = answers.join();
}

/// Reads PostgreSQL frontend messages from `client` and forwards them to `server`, recording
/// `Q` and `P`. Returns at the end of the client's stream or after `Terminate`.
fn postgres_frontend(
    client: &mut TcpStream,
    server: &mut TcpStream,
    connection: usize,
    record: &dyn Fn(Event),
) -> std::io::Result<()> {
    const SSL_REQUEST: u32 = 80_877_103;
    const GSSENC_REQUEST: u32 = 80_877_104;
    const CANCEL_REQUEST: u32 = 80_877_102;
    // Untyped messages (length, then a code) until the startup message.
    loop {
        let mut length = [0u8; 4];
        client.read_exact(&mut length)?;
        let length = u32::from_be_bytes(length) as usize;
        let mut body = vec![0u8; length.saturating_sub(4)];
        client.read_exact(&mut body)?;
        let code = body.get(..4).map_or(0, |c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
        if code == SSL_REQUEST || code == GSSENC_REQUEST {
            client.write_all(b"N")?;
            continue;
        }
        server.write_all(&(length as u32).to_be_bytes())?;
        server.write_all(&body)?;
        if code == CANCEL_REQUEST {
            // The server reads the key and closes the connection.
            let mut rest = Vec::new();
            client.read_to_end(&mut rest)?;
            return Ok(());
        }
        break;
    }
    loop {
        let mut header = [0u8; 5];
        client.read_exact(&mut header)?;
        let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        let mut body = vec![0u8; length.saturating_sub(4)];
        client.read_exact(&mut body)?;
        let sql = match header[0] {
            b'Q' => Some((false, c_string(&body))),
            // Parse: the statement's name, then its text.
            b'P' => {
                let name_end = body.iter().position(|b| *b == 0).map_or(body.len(), |i| i + 1);
                Some((true, c_string(&body[name_end..])))
            }
            _ => None,
        };
        if let Some((prepared, sql)) = sql {
            record(Event::Sql { connection, prepared, sql });
        }
        server.write_all(&header)?;
        server.write_all(&body)?;
        if header[0] == b'X' {
            return Ok(());
        }
    }
}

/// Reads MySQL client packets from `client` and forwards them to `server`, recording
/// `COM_QUERY` and `COM_STMT_PREPARE`. Returns at the end of the client's stream.
fn mysql_frontend(
    client: &mut TcpStream,
    server: &mut TcpStream,
    connection: usize,
    record: &dyn Fn(Event),
) -> std::io::Result<()> {
    const COM_QUIT: u8 = 0x01;
    const COM_QUERY: u8 = 0x03;
    const COM_STMT_PREPARE: u8 = 0x16;
    loop {
        let mut header = [0u8; 4];
        client.read_exact(&mut header)?;
        let length = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
        let mut payload = vec![0u8; length];
        client.read_exact(&mut payload)?;
        // The handshake response and authentication packets continue the server's sequence
        // (id 1 and up); a command starts a new one.
        if header[3] == 0 {
            match payload.first() {
                Some(&COM_QUERY) | Some(&COM_STMT_PREPARE) => {
                    let prepared = payload[0] == COM_STMT_PREPARE;
                    let sql = String::from_utf8_lossy(&payload[1..]).into_owned();
                    record(Event::Sql { connection, prepared, sql });
                }
                _ => {}
            }
        }
        server.write_all(&header)?;
        server.write_all(&payload)?;
        if header[3] == 0 && payload.first() == Some(&COM_QUIT) {
            return Ok(());
        }
    }
}

/// The text of a NUL-terminated string at the start of `bytes`.
fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}
