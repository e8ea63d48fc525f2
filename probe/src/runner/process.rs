//! Running one measurement tool to completion, bounded in time.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// What a tool run printed and how it ended.
#[derive(Debug)]
pub struct ToolOutput {
    /// Everything written to standard output.
    pub stdout: Vec<u8>,
    /// Why the run failed (start, time-out or non-zero exit with its standard error), if it did.
    pub failure: Option<String>,
}

/// Runs `program` with `args`, feeding it `stdin`, and kills it after `timeout`. A tool that
/// cannot start, times out, exits non-zero or writes to standard error is a failure carrying a
/// message; its standard output is kept either way, since scamper prints partial results.
pub async fn run(program: &Path, args: &[String], stdin: &[u8], timeout: Duration) -> ToolOutput {
    let name = program.display().to_string();
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => return failed(format!("cannot start {name}: {error}")),
    };
    // Fed from its own task: a tool that fills its output pipe before reading all of its
    // input would otherwise wait for us while we wait for it.
    if let Some(mut input) = child.stdin.take() {
        let stdin = stdin.to_vec();
        tokio::spawn(async move { input.write_all(&stdin).await });
    }
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => return failed(format!("{name} failed: {error}")),
        Err(_) => {
            return failed(format!(
                "{name} did not finish within {} s and was killed",
                timeout.as_secs()
            ))
        }
    };
    ToolOutput {
        failure: exit_failure(&name, output.status, &output.stderr),
        stdout: output.stdout,
    }
}

fn failed(message: String) -> ToolOutput {
    ToolOutput {
        stdout: Vec::new(),
        failure: Some(message),
    }
}

/// A non-zero exit, or anything on standard error: scamper exits 0 when it cannot open its
/// sockets (no raw-socket permission) and only says so there.
fn exit_failure(name: &str, status: ExitStatus, stderr: &[u8]) -> Option<String> {
    let stderr = String::from_utf8_lossy(stderr);
    let stderr = stderr.trim();
    match (status.success(), stderr.is_empty()) {
        (true, true) => None,
        (true, false) => Some(format!("{name} reported: {stderr}")),
        (false, true) => Some(format!("{name} exited with {status}")),
        (false, false) => Some(format!("{name} exited with {status}: {stderr}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn output_and_exit_status_are_reported() {
        let ok = run(Path::new("cat"), &[], b"hello", 5 * SECOND).await;
        assert_eq!(ok.stdout, b"hello");
        assert_eq!(ok.failure, None);

        let script = args(&["-c", "echo partial; echo broken >&2; exit 3"]);
        let failed = run(Path::new("sh"), &script, b"", 5 * SECOND).await;
        assert_eq!(failed.stdout, b"partial\n");
        let message = failed.failure.unwrap();
        assert!(
            message.contains("exit status: 3") && message.ends_with(": broken"),
            "{message}"
        );

        let warned = args(&["-c", "echo done; echo 'could not open ICMP socket' >&2"]);
        let warned = run(Path::new("sh"), &warned, b"", 5 * SECOND).await;
        assert_eq!(warned.stdout, b"done\n");
        assert_eq!(
            warned.failure.unwrap(),
            "sh reported: could not open ICMP socket"
        );
    }

    #[tokio::test]
    async fn a_missing_tool_and_a_hung_tool_are_failures() {
        let missing = run(Path::new("/nonexistent/scamper"), &[], b"", SECOND).await;
        assert!(missing
            .failure
            .unwrap()
            .starts_with("cannot start /nonexistent/scamper"));

        let hung = run(Path::new("sleep"), &args(&["30"]), b"", SECOND / 5).await;
        assert!(hung.failure.unwrap().contains("did not finish"));
    }
}
