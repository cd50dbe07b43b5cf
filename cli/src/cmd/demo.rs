//! `featgen demo`: the whole flow on one machine; `featgen-demo` does the work.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::Status;

/// Arguments of `featgen demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Where profiles, rows and the report go.
    #[arg(long, value_name = "DIR", default_value = "featgen-demo")]
    pub dir: PathBuf,
    /// How long the request load runs, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 40)]
    pub seconds: u64,
    /// Internal: serve one deployment of the demo fleet (the demo starts these itself).
    #[arg(long, hide = true, value_name = "NAME", requires = "profiles")]
    pub serve_deployment: Option<String>,
    /// Internal: where a fleet deployment writes its profiles.
    #[arg(long, hide = true, value_name = "DIR")]
    pub profiles: Option<PathBuf>,
}

/// Runs `featgen demo`.
pub fn run(args: &DemoArgs) -> Status {
    if let (Some(deployment), Some(profiles)) = (&args.serve_deployment, &args.profiles) {
        return report(featgen_demo::fleet::serve_deployment(deployment, profiles));
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(err) => {
            eprintln!("error: cannot find the featgen binary to start the demo fleet: {err}");
            return Status::Error;
        }
    };
    let options = featgen_demo::DemoOptions {
        dir: args.dir.clone(),
        load: Duration::from_secs(args.seconds),
        ..featgen_demo::DemoOptions::default()
    };
    eprintln!(
        "featgen demo: {} deployments of examples/axum-chat under load for {} s, profiles in {}",
        featgen_demo::FLEET.len(),
        args.seconds,
        options.dir.join("profiles").display()
    );
    let run = featgen_demo::run(
        &options,
        |deployment, profiles| {
            let mut command = Command::new(&exe);
            command
                .arg("demo")
                .arg("--serve-deployment")
                .arg(deployment)
                .arg("--profiles")
                .arg(profiles);
            command
        },
        || Command::new(&exe),
    );
    report(run.map(|run| {
        println!("{}", run.report.display());
        eprintln!(
            "open {} in a browser: what each feature of the fleet costs",
            run.report.display()
        );
    }))
}

/// The exit status of a demo step, with its error on stderr.
fn report<T>(result: Result<T, featgen_demo::DemoError>) -> Status {
    match result {
        Ok(_) => Status::Ok,
        Err(err) => {
            eprintln!("error: {err}");
            Status::Error
        }
    }
}
