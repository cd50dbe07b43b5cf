//! A bounded request load on loopback: keep-alive HTTP/1.1 connections, each sending a
//! deployment's mix of requests until a deadline or a request count, whichever comes first.
//!
//! Plain `std::net` and a hand-written request line: the demo talks to its own server on
//! 127.0.0.1 only, and the few lines it needs are no reason for an HTTP client dependency.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// One kind of request the chat API serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `POST /channels/{id}/messages`, a message of a few KB.
    SendMessage,
    /// `GET /channels/{id}/messages`.
    ListMessages,
    /// `PATCH /channels/{id}/messages/{id}`.
    EditMessage,
    /// `POST /channels/{id}/typing`.
    Typing,
    /// `POST /voice/{id}/messages`.
    VoiceText,
    /// `GET /users/@me`.
    Me,
}

impl Call {
    /// The request's bytes; `n` varies the channel and the text.
    fn request(self, n: u64) -> Vec<u8> {
        let channel = n % 64;
        let (method, path, body) = match self {
            Call::SendMessage => (
                "POST",
                format!("/channels/{channel}/messages"),
                Some(message(n)),
            ),
            Call::ListMessages => ("GET", format!("/channels/{channel}/messages"), None),
            Call::EditMessage => (
                "PATCH",
                format!("/channels/{channel}/messages/{}", n % 50 + 1),
                Some(message(n)),
            ),
            Call::Typing => ("POST", format!("/channels/{channel}/typing"), None),
            Call::VoiceText => (
                "POST",
                format!("/voice/{channel}/messages"),
                Some(message(n)),
            ),
            Call::Me => ("GET", "/users/@me".to_owned(), None),
        };
        let body = body.unwrap_or_default();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body.as_bytes());
        request
    }
}

/// A JSON message body of about 3 KB, different for every `n`.
fn message(n: u64) -> String {
    let words: String = (0..400)
        .map(|i| format!("w{} ", (n * 31 + i) % 997))
        .collect();
    serde_json::json!({ "content": words }).to_string()
}

/// Sends the weighted `mix` over one keep-alive connection to `addr` until `deadline` or
/// `max_requests`; returns how many requests completed.
pub fn drive(
    addr: SocketAddr,
    mix: &[(Call, u32)],
    deadline: Instant,
    max_requests: u64,
) -> io::Result<u64> {
    let total_weight: u64 = mix.iter().map(|&(_, weight)| u64::from(weight)).sum();
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut done = 0;
    while done < max_requests && Instant::now() < deadline {
        // A multiplicative hash spreads the mix evenly without a random number generator.
        let mut pick = done.wrapping_mul(0x9E37_79B9_7F4A_7C15) % total_weight.max(1);
        let call = mix
            .iter()
            .find(|&&(_, weight)| {
                let hit = pick < u64::from(weight);
                pick = pick.saturating_sub(u64::from(weight));
                hit
            })
            .map_or(Call::Me, |&(call, _)| call);
        writer.write_all(&call.request(done))?;
        read_response(&mut reader)?;
        done += 1;
    }
    Ok(done)
}

/// Reads one response (status line, headers, a `content-length` body) and checks its status.
fn read_response(reader: &mut BufReader<TcpStream>) -> io::Result<()> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if !line.starts_with("HTTP/1.1 2") {
        return Err(io::Error::other(format!(
            "the demo service answered `{}`",
            line.trim_end()
        )));
    }
    let mut length = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().map_err(io::Error::other)?;
        }
    }
    io::copy(&mut reader.by_ref().take(length), &mut io::sink())?;
    Ok(())
}
