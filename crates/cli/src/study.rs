//! The researcher's commands against a station's HTTP API (`tessera station serve`):
//! `tessera study submit STUDY --to ADDR` sends a study file, `tessera study status ID --at
//! ADDR` shows its state at that station. Plain HTTP/1.1 over TCP (the API is meant for
//! loopback or behind a TLS proxy for now, see docs/station.md).
//!
//! Exit codes: 0 accepted (approved or waiting for a person) / found; 3 refused by the
//! station's policy (the reasons are printed); 2 invalid study or unknown id; 1 the station
//! could not be reached or answered unexpectedly.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::Value;

/// Arguments of `tessera study`.
#[derive(Args, Debug)]
pub struct StudyArgs {
    #[command(subcommand)]
    pub command: StudyCommand,
}

/// The researcher's commands.
#[derive(Subcommand, Debug)]
pub enum StudyCommand {
    /// Send a study file to a station.
    Submit {
        /// The study file.
        study: PathBuf,
        /// The station's API address (`host:port` or `http://host:port`).
        #[arg(long, value_name = "ADDR")]
        to: String,
        /// Who submits (recorded in the station's audit log).
        #[arg(long, value_name = "NAME")]
        from: Option<String>,
    },
    /// Show a study's state at a station.
    Status {
        /// The study id.
        id: String,
        /// The station's API address.
        #[arg(long, value_name = "ADDR")]
        at: String,
    },
}

/// An HTTP answer: status code and JSON body.
struct Answer {
    status: u16,
    body: Value,
}

/// One HTTP/1.1 request (the connection is closed after the answer).
fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Answer, String> {
    let host = addr.trim_start_matches("http://").trim_end_matches('/');
    let target = host
        .to_socket_addrs()
        .map_err(|e| format!("station {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("station {host}: no address"))?;
    let mut s = TcpStream::connect_timeout(&target, Duration::from_secs(10))
        .map_err(|e| format!("cannot reach the station at {host}: {e}"))?;
    let timeout = Some(Duration::from_secs(60));
    s.set_read_timeout(timeout).map_err(|e| e.to_string())?;
    s.set_write_timeout(timeout).map_err(|e| e.to_string())?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())
        .and_then(|_| s.write_all(body))
        .map_err(|e| format!("station {host}: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .map_err(|e| format!("station {host}: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("station {host}: not an HTTP answer"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("station {host}: not an HTTP answer"))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    Ok(Answer { status, body })
}

/// The body of a chunked HTTP answer.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

fn message(v: &Value) -> String {
    v["error"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

/// Runs a `tessera study` command.
pub fn main(args: &StudyArgs) -> ExitCode {
    let result = match &args.command {
        StudyCommand::Submit { study, to, from } => submit(study, to, from.as_deref()),
        StudyCommand::Status { id, at } => status(id, at),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tessera: {e}");
            ExitCode::FAILURE
        }
    }
}

fn submit(study: &PathBuf, to: &str, from: Option<&str>) -> Result<ExitCode, String> {
    let text = std::fs::read(study).map_err(|e| format!("{}: {e}", study.display()))?;
    let mut headers = vec![("Content-Type", "text/plain; charset=utf-8")];
    if let Some(f) = from {
        headers.push(("X-Tessera-From", f));
    }
    let a = request(to, "POST", "/studies", &headers, &text)?;
    match a.status {
        200 | 201 => {
            println!(
                "study {} at {}: {}",
                a.body["id"].as_str().unwrap_or("?"),
                to,
                a.body["state"].as_str().unwrap_or("?")
            );
            if let Some(d) = a.body.get("decision") {
                println!("decision: {d}");
            }
            Ok(ExitCode::SUCCESS)
        }
        403 => {
            eprintln!("tessera: the station refused the study:");
            for r in a.body["reasons"].as_array().into_iter().flatten() {
                eprintln!("  {}", r.as_str().unwrap_or(""));
            }
            Ok(ExitCode::from(3))
        }
        400 | 409 => {
            eprintln!("tessera: {}", message(&a.body));
            Ok(ExitCode::from(2))
        }
        s => Err(format!("the station answered {s}: {}", message(&a.body))),
    }
}

fn status(id: &str, at: &str) -> Result<ExitCode, String> {
    let a = request(at, "GET", &format!("/studies/{id}"), &[], &[])?;
    match a.status {
        200 => {
            println!(
                "study {id} at {at}: {}{}",
                a.body["state"].as_str().unwrap_or("?"),
                a.body["reason"]
                    .as_str()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        404 => {
            eprintln!("tessera: no study {id} at {at}");
            Ok(ExitCode::from(2))
        }
        s => Err(format!("the station answered {s}: {}", message(&a.body))),
    }
}
