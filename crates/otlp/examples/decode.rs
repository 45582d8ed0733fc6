//! The decode-only ceiling of `bench/telemetry.sh`: how fast one core turns a saved OTLP
//! request body into rows (JSON normalisation, protobuf decoding, attribute mapping), with no
//! HTTP and no database.
//!
//!   cargo run --release -p mcplatform-otlp --example decode -- traces.pb protobuf 3

#![allow(clippy::print_stdout)] // the measurement is its output

use std::time::{Duration, Instant};

use mcplatform_otlp::{Encoding, Signal, decode};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: decode <body file> <protobuf|json> [seconds]";
    let path = args.next().ok_or(usage)?;
    let encoding = match args.next().as_deref() {
        Some("protobuf") => Encoding::Protobuf,
        Some("json") => Encoding::Json,
        _ => return Err(usage.into()),
    };
    let seconds: u64 = args.next().map_or(Ok(3), |s| s.parse())?;
    let body = std::fs::read(&path)?;

    let started = Instant::now();
    let (mut rounds, mut spans) = (0_u64, 0_u64);
    while started.elapsed() < Duration::from_secs(seconds) {
        let decoded = decode(Signal::Traces, encoding, &body)?;
        spans += decoded.batch.spans.len() as u64;
        rounds += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{{\"spans_per_sec\": {:.0}, \"mb_per_sec\": {:.1}}}",
        spans as f64 / elapsed,
        (rounds * body.len() as u64) as f64 / elapsed / 1e6
    );
    Ok(())
}
