//! The process's own resources for `/metrics`, under the `process_*` names every Prometheus client
//! library uses (so the usual dashboards and alerts work unchanged): CPU time, resident and virtual
//! memory, open and allowed file descriptors, start time. Read from `/proc/self` each time `/metrics` is
//! asked, never cached, so a scrape sees the values of its own moment. Linux only: elsewhere, or without
//! `/proc`, [`read`] gives `None` and the metrics are absent rather than wrong.

/// The process's resources at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Usage {
    /// User and system CPU time, in seconds.
    pub cpu_seconds: f64,
    /// Resident memory, in bytes.
    pub resident_bytes: u64,
    /// Virtual memory, in bytes.
    pub virtual_bytes: u64,
    /// Open file descriptors.
    pub open_fds: u64,
    /// The soft limit on open file descriptors; `None` when unlimited or unknown.
    pub max_fds: Option<u64>,
    /// When the process started, in seconds since the Unix epoch.
    pub start_time_seconds: f64,
}

/// The fields of `/proc/self/stat` read here, in the units the kernel gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// `utime + stime`, in clock ticks.
    pub cpu_ticks: u64,
    /// `starttime`: clock ticks after boot.
    pub start_ticks: u64,
    /// `vsize`, in bytes.
    pub virtual_bytes: u64,
    /// `rss`, in pages.
    pub resident_pages: u64,
}

/// Parses a `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and may hold spaces
/// and parentheses itself, so the fields are counted from the last `)`.
pub fn parse_stat(line: &str) -> Option<Stat> {
    let rest = &line[line.rfind(')')? + 1..];
    // `rest` starts at field 3 (state): field n is at index n - 3.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        cpu_ticks: field(14)? + field(15)?,
        start_ticks: field(22)?,
        virtual_bytes: field(23)?,
        resident_pages: field(24)?,
    })
}

/// The boot time (`btime`, seconds since the epoch) from `/proc/stat`'s text.
pub fn parse_btime(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The process's resources now; `None` where `/proc/self` cannot be read.
#[cfg(target_os = "linux")]
pub fn read() -> Option<Usage> {
    let stat = parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    let btime = parse_btime(&std::fs::read_to_string("/proc/stat").ok()?)?;
    // SAFETY: sysconf only reads a configuration value.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    if ticks <= 0 || page <= 0 {
        return None;
    }
    let ticks = ticks as f64;
    // Counted after the listing is read: its own descriptor is counted too, as every client library does.
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(Usage {
        cpu_seconds: stat.cpu_ticks as f64 / ticks,
        resident_bytes: stat.resident_pages * page as u64,
        virtual_bytes: stat.virtual_bytes,
        open_fds,
        max_fds: max_fds(),
        start_time_seconds: btime as f64 + stat.start_ticks as f64 / ticks,
    })
}

/// Elsewhere than Linux there is no `/proc/self` to read.
#[cfg(not(target_os = "linux"))]
pub fn read() -> Option<Usage> {
    None
}

/// The soft `RLIMIT_NOFILE`; `None` when unlimited or unknown.
#[cfg(target_os = "linux")]
fn max_fds() -> Option<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given and nothing else.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0;
    (ok && r.rlim_cur != libc::RLIM_INFINITY).then_some(r.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        // A command name with spaces and a parenthesis of its own.
        let line = "4242 (s3 (logs) beat) S 1 4242 4242 0 -1 4194560 900 0 0 0 150 25 0 0 20 0 9 0 \
                    123456 987654321 2048 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                cpu_ticks: 175,
                start_ticks: 123456,
                virtual_bytes: 987654321,
                resident_pages: 2048,
            })
        );
        assert_eq!(parse_stat("4242 (cut"), None);
        assert_eq!(parse_stat("4242 (x) S 1 2"), None);
        assert_eq!(
            parse_btime("cpu  1 2 3\nbtime 1700000000\nprocesses 9\n"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_btime("cpu 1\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_read_from_proc() {
        let u = read().expect("/proc/self is readable on Linux");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(u.cpu_seconds >= 0.0, "{u:?}");
        assert!(
            u.resident_bytes > 0 && u.virtual_bytes >= u.resident_bytes,
            "{u:?}"
        );
        // stdin, stdout and stderr at least, and the listing's own descriptor.
        assert!(u.open_fds >= 3, "{u:?}");
        assert!(u.max_fds.is_none_or(|m| m >= u.open_fds), "{u:?}");
        // Started before now, and within the day (the clock ticks round to 1/100 s).
        assert!(
            u.start_time_seconds <= now + 1.0 && u.start_time_seconds > now - 86400.0,
            "{u:?} now {now}"
        );
    }
}
