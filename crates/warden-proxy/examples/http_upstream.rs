//! A loopback HTTP server for `bench/sandbox_net.sh`, so that real clients (curl) can be timed
//! direct and through the sandbox's proxy path: `GET` answers with N bytes, `PUT` reads its
//! body and answers `ok`. Prints its port, then serves until killed; one thread per
//! connection, `Connection: close`.
//!
//! Usage: `http_upstream BYTES`

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::Arc;

const CHUNK: usize = 256 * 1024;

fn main() {
    let Some(bytes) = std::env::args().nth(1).and_then(|v| v.parse::<u64>().ok()) else {
        eprintln!("usage: http_upstream BYTES");
        std::process::exit(2);
    };
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    println!("{}", l.local_addr().expect("addr").port());
    std::io::stdout().flush().expect("stdout");
    let data = Arc::new(vec![0x5au8; CHUNK]);
    for s in l.incoming().flatten() {
        let data = data.clone();
        std::thread::spawn(move || {
            let _ = serve(s, bytes, &data);
        });
    }
}

fn serve(s: TcpStream, bytes: u64, data: &[u8]) -> std::io::Result<()> {
    let mut r = BufReader::with_capacity(CHUNK, s.try_clone()?);
    let mut w = s;
    let mut line = String::new();
    r.read_line(&mut line)?;
    let method = line.split(' ').next().unwrap_or_default().to_owned();
    let mut body_len = 0u64;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            body_len = v.trim().parse().unwrap_or(0);
        }
    }
    if method == "PUT" || method == "POST" {
        let n = std::io::copy(&mut r.by_ref().take(body_len), &mut std::io::sink())?;
        let reply = if n == body_len { "ok" } else { "short" };
        write!(
            w,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
            reply.len()
        )?;
        return Ok(());
    }
    write!(
        w,
        "HTTP/1.1 200 OK\r\nContent-Length: {bytes}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
    )?;
    let mut left = bytes;
    while left > 0 {
        let n = left.min(data.len() as u64) as usize;
        w.write_all(&data[..n])?;
        left -= n as u64;
    }
    w.shutdown(std::net::Shutdown::Write)
}
