//! What the machine gives this process: memory for a fit, and the signals that interrupt a
//! command.

/// Memory the process can use now: the kernel's `MemAvailable`, or the cgroup's headroom
/// when a container limits it more. `None` where neither can be read.
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let available = meminfo.as_deref().and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    });
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let cgroup = match (
        read("/sys/fs/cgroup/memory.max"),
        read("/sys/fs/cgroup/memory.current"),
    ) {
        (Some(max), Some(current)) => Some(max.saturating_sub(current)),
        _ => None,
    };
    match (available, cgroup) {
        (Some(a), Some(c)) => Some(a.min(c)),
        (a, c) => a.or(c),
    }
}

/// `auto` (what the machine has) or a size such as `512MiB`, `24G`, `1000000`.
pub fn memory_budget(text: &str) -> anyhow::Result<Option<u64>> {
    if text == "auto" {
        return Ok(available_memory());
    }
    if text == "unlimited" {
        return Ok(None);
    }
    parse_size(text).map(Some).ok_or_else(|| {
        anyhow::anyhow!("--max-memory {text:?}: expected auto, unlimited or a size such as 16GiB")
    })
}

fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number * scale;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// On Ctrl-C or SIGTERM: remove this process's unfinished output (every temporary
/// registered in `shimkit_data`), say so, and exit 130 or 143 as a shell would report the
/// signal. The handlers are registered before this returns, so a signal arriving at any
/// later moment is caught.
pub fn clean_up_on_interrupt() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("cannot watch for Ctrl-C: {e}");
                return;
            }
        };
        let (interrupt, terminate) = {
            let _inside = runtime.enter();
            (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            )
        };
        let (Ok(mut interrupt), Ok(mut terminate)) = (interrupt, terminate) else {
            tracing::warn!("cannot watch for Ctrl-C and SIGTERM");
            return;
        };
        std::thread::spawn(move || {
            let code = runtime.block_on(async {
                tokio::select! {
                    _ = interrupt.recv() => 130,
                    _ = terminate.recv() => 143,
                }
            });
            let removed = shimkit_data::remove_pending();
            if removed.is_empty() {
                eprintln!("interrupted");
            } else {
                let names: Vec<String> = removed.iter().map(|p| p.display().to_string()).collect();
                eprintln!(
                    "interrupted: removed the unfinished output {}",
                    names.join(", ")
                );
            }
            std::process::exit(code);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512MiB"), Some(512 << 20));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("12 parsecs"), None);
        assert_eq!(parse_size("-1G"), None);
    }
}
