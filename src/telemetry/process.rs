//! Facts about this process read from the operating system.

/// Resident set size, from `/proc/self/status` (`VmRSS`, in kB); `None` where there is no
/// procfs, so metrics simply omit it instead of reporting a false zero.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_running_process_has_resident_memory() {
        if cfg!(target_os = "linux") {
            assert!(super::resident_bytes().unwrap() > 1 << 20);
        }
    }
}
