//! Fuzzing on stable Rust, in two parts:
//!
//! - every test run replays the committed corpus (`fuzz/corpus/{frames,params}`) through the
//!   frame decoders and the params parser;
//! - with `PLADMED_FUZZ_SECONDS=N` it also mutates corpus entries at random for N seconds
//!   (byte flips, insertions, deletions, splices, JSON-ish tokens). `.ci/run` does 20 s.
//!
//! This is a random mutational fuzzer without coverage feedback (cargo-fuzz needs nightly).
//! A panicking input is written to `target/fuzz-crashes/` and fails the test; commit it to the
//! corpus once fixed, so that it is replayed forever.

use chrono::{TimeZone, Utc};
use probe_protocol::{params, OperationKind, ProbeMessage, ServerMessage};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "{} is empty", dir.display());
    entries.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// The frame target: both decoders, and a re-encoding of whatever decodes.
fn frames(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    if let Ok(message) = ProbeMessage::decode(&text) {
        assert_eq!(ProbeMessage::decode(&message.encode()).ok(), Some(message));
    }
    if let Ok(message) = ServerMessage::decode(&text) {
        assert_eq!(ServerMessage::decode(&message.encode()).ok(), Some(message));
    }
}

/// The params target: a JSON object parsed as each kind's params, and priced.
fn params_target(input: &[u8]) {
    let Ok(serde_json::Value::Object(object)) = serde_json::from_slice(input) else {
        return;
    };
    let now = Utc.with_ymd_and_hms(2030, 6, 15, 12, 0, 0).unwrap();
    for kind in [
        OperationKind::Traceroute,
        OperationKind::Ping,
        OperationKind::Dns,
    ] {
        if let Ok(parsed) = params::parse(kind, &object, now) {
            let _ = parsed.credits_per_execution();
            let runs = parsed.schedule().estimated_runs(now);
            assert!(runs.is_finite() && runs >= 0.0);
        }
    }
}

/// Runs `target` on `input`; a panic saves the input and fails with its path.
fn check(name: &str, target: fn(&[u8]), input: &[u8]) {
    if catch_unwind(AssertUnwindSafe(|| target(input))).is_err() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-crashes");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}-{:016x}", fnv(input)));
        std::fs::write(&path, input).unwrap();
        panic!("{name} panicked on {}", path.display());
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

/// xorshift64*: a seeded generator, so a run can be repeated from its printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"-1",
    b"0",
    b"1e309",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"\\u0000",
    b"\\ud800",
    b"\"type\"",
    b"\"hello\"",
    b"\"result\"",
    b"\"cron\"",
    b"\"stop_time\"",
    b"\"*/0 * * * *\"",
    b"\"29/02/2031 25:61\"",
    b"\"255.255.255.255\"",
    b"\"::\"",
    b"4294967296",
];

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(6) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.insert(at, rng.next() as u8),
            2 if at < data.len() => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                data.drain(at..end);
            }
            3 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, token.iter().copied());
            }
            4 if !other.is_empty() => {
                let from = rng.below(other.len());
                let end = (from + 1 + rng.below(64)).min(other.len());
                data.splice(at..at, other[from..end].iter().copied());
            }
            _ if at < data.len() => {
                let end = (at + 1 + rng.below(32)).min(data.len());
                let copy = data[at..end].to_vec();
                data.splice(at..at, copy);
            }
            _ => {}
        }
    }
    data
}

fn run_target(name: &str, target: fn(&[u8])) {
    let seeds = corpus(name);
    for seed in &seeds {
        check(name, target, seed);
    }
    let seconds: u64 = std::env::var("PLADMED_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let seed = std::env::var("PLADMED_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            clock.map_or(0, |d| d.as_nanos() as u64) ^ fnv(name.as_bytes())
        })
        | 1;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut rng = Rng(seed);
    let mut executions = 0u64;
    while Instant::now() < deadline {
        let (seed, other) = (rng.below(seeds.len()), rng.below(seeds.len()));
        let input = mutate(&mut rng, &seeds[seed], &seeds[other]);
        check(name, target, &input);
        executions += 1;
    }
    if seconds > 0 {
        eprintln!("fuzz {name}: {executions} inputs in {seconds} s, seed {seed}, no panic");
    }
}

#[test]
fn frame_decoder_survives_its_corpus_and_mutations() {
    run_target("frames", frames);
}

#[test]
fn params_parser_survives_its_corpus_and_mutations() {
    run_target("params", params_target);
}
