//! Engine selection where perf events are denied, as a container's seccomp profile does: this
//! process installs a seccomp filter that fails `perf_event_open` with `EACCES` (so it must stay
//! the only test of this binary: the filter cannot be removed). An explicit `perf_event` engine
//! then fails `start()`, and `auto` falls back to `timer_create` and says so in the log, in
//! `stats()` and in every profile.
#![cfg(all(feature = "profiler", target_os = "linux", target_arch = "x86_64"))]

#[path = "fixtures/profiler/support.rs"]
mod support;

use featgen::profiler::{Error, Profiler, SamplingEngine};
use std::sync::Mutex;
use std::time::Duration;
use support::*;

/// Log records, as `level: message`.
static LOGGED: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Recorder;

impl log::Log for Recorder {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, record: &log::Record) {
        LOGGED
            .lock()
            .unwrap()
            .push(format!("{}: {}", record.level(), record.args()));
    }

    fn flush(&self) {}
}

/// Makes `perf_event_open` fail with `EACCES` in every thread of this process, for good.
fn deny_perf_events() {
    const LOAD_WORD_ABSOLUTE: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JUMP_IF_EQUAL: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RETURN: u16 = 0x06; // BPF_RET | BPF_K
    let step = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let mut program = [
        // seccomp_data.nr (offset 0); this test runs on x86_64 only, so the arch is known.
        step(LOAD_WORD_ABSOLUTE, 0, 0, 0),
        step(JUMP_IF_EQUAL, 0, 1, libc::SYS_perf_event_open as u32),
        step(RETURN, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EACCES as u32),
        step(RETURN, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    let filter = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: prctl and seccomp with valid arguments; the program outlives the call (the kernel
    // copies it).
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                libc::SECCOMP_FILTER_FLAG_TSYNC,
                &filter as *const libc::sock_fprog,
            ),
            0,
            "cannot install the seccomp filter: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[test]
fn where_perf_events_are_denied_auto_falls_back_to_timer_create_and_says_so() {
    log::set_logger(&Recorder).unwrap();
    log::set_max_level(log::LevelFilter::Info);
    deny_perf_events();
    let dir = tempfile::tempdir().unwrap();
    let builder = || {
        Profiler::builder()
            .frequency_hz(1000)
            .interval(Duration::from_secs(3600))
            .local_dir(dir.path())
    };

    let err = builder()
        .sampling_engine(SamplingEngine::PerfEvent)
        .start()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("perf events are not permitted"),
        "{err}"
    );

    let profiler = builder().start().unwrap();
    assert_eq!(profiler.stats().sampler, "timer_create");
    workload(Duration::from_millis(300), Duration::ZERO);
    let stats = profiler.stop();
    assert_conserved(&stats);
    assert_eq!(stats.sampler, "timer_create");
    assert!(stats.samples_taken > 0, "{stats:#?}");
    let profiles = read_profiles(dir.path());
    assert!(!profiles.is_empty());
    for profile in &profiles {
        let comments: Vec<_> = profile.comment.iter().map(|&c| profile.string(c)).collect();
        assert_eq!(comments, ["sampler=timer_create"]);
    }
    assert!(cpu_by_feature(&profiles)["messaging"] > 0);

    let logged = LOGGED.lock().unwrap();
    assert!(
        logged.iter().any(|line| line.starts_with("WARN: ")
            && line.contains("perf events not permitted")
            && line.contains("timer_create")),
        "{logged:?}"
    );
}
