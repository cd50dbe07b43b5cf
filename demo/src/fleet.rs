//! The demo fleet: the example chat service run as several deployments, each its own process
//! with its own `deployment` label, profiling itself into one shared directory.
//!
//! A deployment process is the `featgen` binary re-run with a hidden argument (the CLI passes
//! the command), so that the demo needs nothing but the one binary. It prints `listening ADDR`
//! once it serves, and stops gracefully (flushing its last profile) when its standard input
//! closes: the parent needs no signals, and a parent that dies takes its fleet with it.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::DemoError;

/// How often each deployment cuts a profile: short, so that a one-minute demo has several.
const PROFILE_INTERVAL: Duration = Duration::from_secs(5);
/// The sampling rate, the profiler's production default.
const PROFILE_HZ: u32 = 100;

/// Serves the chat API as deployment `deployment` on a loopback port, profiling into
/// `profiles`, until standard input closes. Runs in the deployment's own process.
pub fn serve_deployment(deployment: &str, profiles: &Path) -> Result<(), DemoError> {
    let profiler = featgen::profiler::Profiler::builder()
        .service_name("axum-chat")
        .label("deployment", deployment)
        .local_dir(profiles)
        .frequency_hz(PROFILE_HZ)
        .interval(PROFILE_INTERVAL)
        .start()
        .map_err(|err| DemoError::Fleet(format!("starting the profiler: {err}")))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(featgen::profiler::register_current_thread)
        .build()
        .map_err(|err| DemoError::Fleet(format!("starting the runtime: {err}")))?;
    runtime
        .block_on(serve_until_stdin_closes())
        .map_err(|err| DemoError::Fleet(format!("serving {deployment}: {err}")))?;
    drop(runtime);
    // Dropping the guard stops the sampler and writes the last profile.
    drop(profiler);
    Ok(())
}

async fn serve_until_stdin_closes() -> io::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
    // A plain thread: reading a pipe to its end blocks, and it must not hold a worker.
    std::thread::spawn(move || {
        io::copy(&mut io::stdin().lock(), &mut io::sink()).ok();
        closed_tx.send(()).ok();
    });
    let chat = Arc::new(axum_chat::Chat::default());
    featgen::axum::serve(listener, axum_chat::app(chat), async {
        closed_rx.await.ok();
    })
    .await
}

/// A running deployment process.
pub struct RunningDeployment {
    /// Its `deployment` label.
    pub name: String,
    /// Where it serves.
    pub addr: SocketAddr,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl RunningDeployment {
    /// Starts `command` (which must run [`serve_deployment`]) and waits until it serves.
    pub fn start(name: &str, mut command: Command) -> Result<RunningDeployment, DemoError> {
        let spawn_error =
            |err: io::Error| DemoError::Fleet(format!("starting deployment {name}: {err}"));
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        let stdin = child.stdin.take();
        let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let addr = lines
            .find_map(|line| line.ok()?.strip_prefix("listening ")?.parse().ok())
            .ok_or_else(|| DemoError::Fleet(format!("deployment {name} exited before it served")));
        let addr = match addr {
            Ok(addr) => addr,
            Err(err) => {
                child.kill().ok();
                child.wait().ok();
                return Err(err);
            }
        };
        Ok(RunningDeployment {
            name: name.to_owned(),
            addr,
            child,
            stdin,
        })
    }

    /// Closes the deployment's standard input and waits for it to flush its last profile and
    /// exit; kills it after `grace`.
    pub fn stop(mut self, grace: Duration) -> Result<(), DemoError> {
        drop(self.stdin.take());
        let deadline = Instant::now() + grace;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    return Err(DemoError::Fleet(format!(
                        "deployment {} exited with {status}",
                        self.name
                    )));
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(None) | Err(_) => {
                    self.child.kill().ok();
                    self.child.wait().ok();
                    return Err(DemoError::Fleet(format!(
                        "deployment {} did not stop within {grace:?}",
                        self.name
                    )));
                }
            }
        }
    }
}

impl Drop for RunningDeployment {
    fn drop(&mut self) {
        // Only reached when `stop` was not called (an error on the way): leave no process behind.
        if self.stdin.is_some() {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}
