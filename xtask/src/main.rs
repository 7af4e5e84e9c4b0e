//! `cargo xtask`: klab's face. Parses the command line, checks the host's tools, and calls
//! one `klab::ops` entry point per subcommand; the engine is the `klab` library.

mod bench;
mod cli;
mod render;
mod setup;
mod tools_stamp;
mod watch;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::Parser;
use klab::build::sandbox::Policy;
use klab::events::{json::JsonLines, Reporter};
use klab::kernel::{self, pack};
use klab::ops;
use klab::ops::boot::BootOptions;
use klab::ops::check::CheckOptions;
use klab::ops::skels::SkelsOptions;
use klab::run::tasks::SnapshotMode;
use klab::run::{Workspace, WorkspaceOptions};

use crate::cli::{Cli, Command, KernelAction, MessageFormat};

fn run(cli: Cli) -> Result<bool> {
    let sandbox = match (cli.no_sandbox, &cli.command) {
        (true, _) => Policy::Off,
        (false, Command::Grade { .. }) => Policy::Required,
        (false, _) => Policy::Preferred,
    };
    let reporter: Arc<dyn Reporter> = match cli.message_format {
        MessageFormat::Json => Arc::new(JsonLines::new(std::io::stdout())),
        MessageFormat::Human => Arc::new(render::Terminal::new(!matches!(
            cli.command,
            Command::Grade { .. }
        ))),
    };
    let options = WorkspaceOptions {
        skels_dir: cli.skels_dir.clone(),
        kernel_tree: cli.kernel_tree.clone(),
        profile: cli.kernel_profile,
        sandbox,
        qemu: None,
    };
    let ws = Workspace::new(&options, reporter)?;
    // `setup` and `test` always verify; other commands trust a fresh stamp.
    let verify_anyway = matches!(cli.command, Command::Setup | Command::Test);
    if cli.command.needs_tools()
        && (verify_anyway || !tools_stamp::fresh(&ws.paths.out, &ws.spec.bindgen))
    {
        let kernel_wanted = match &cli.command {
            Command::Kernel {
                action: KernelAction::Build,
            } => Some(ws.profile),
            command => command.boots(ws.profile),
        };
        setup::ensure_tools(&ws, kernel_wanted)?;
        tools_stamp::record(&ws.paths.out, &ws.spec.bindgen);
    }
    if let Some(profile) = cli.command.boots(ws.profile) {
        setup::kernel_beside_guest_tools(&ws, profile)?;
    }
    match &cli.command {
        Command::Setup => setup::run(&ws)?,
        Command::Kernel { action } => match action {
            KernelAction::Build => {
                let kernel = ws.kernel()?;
                ws.reporter()
                    .output_line(format!("lab kernel: {}", kernel.bzimage.display()));
            }
            KernelAction::Info => {
                kernel::info(&ws.sh, &ws.paths, &ws.spec, ws.profile, ws.reporter())?
            }
            KernelAction::Clean => kernel::clean(&ws.paths, ws.reporter())?,
            KernelAction::Doctests => return ops::doctests::doctests(&ws),
            KernelAction::Export { file } => {
                pack::export(&ws.sh, &ws.paths, &ws.spec, ws.profile, file, ws.reporter())?
            }
            KernelAction::Import { file, force } => pack::import(
                &ws.sh,
                &ws.paths,
                &ws.spec,
                ws.profile,
                file,
                *force,
                ws.reporter(),
            )?,
        },
        Command::Skels { sel, todo, force } => ops::skels::skels(
            &ws,
            &SkelsOptions {
                select: sel.select.clone(),
                todo: *todo,
                force: *force,
            },
        )?,
        Command::Ide { sel, solution } => return klab::ide::run(&ws, &sel.select, *solution),
        Command::Doc { sel, open } => return ops::doc::run(&ws, &sel.select, *open),
        Command::Build { sel, solution } => {
            let kernel = ws.kernel()?;
            let prepared = ws.build_all(&kernel, &ws.source(*solution), ws.select(&sel.select)?)?;
            return Ok(prepared.iter().all(|p| p.built.is_ok()));
        }
        Command::Copy { sel, solution } => {
            let kernel = ws.kernel()?;
            let source = ws.source(*solution);
            let prepared = ws.build_all(&kernel, &source, ws.select(&sel.select)?)?;
            ws.copy(&source, &prepared)?;
        }
        Command::Boot {
            sel,
            solution,
            interactive,
        } => {
            let options = BootOptions {
                select: sel.select.clone(),
                solution: *solution,
                interactive: *interactive,
            };
            return ops::boot::boot(&ws, &options);
        }
        Command::Check {
            sel,
            solution,
            watch,
            html,
        } => {
            let options = CheckOptions {
                select: sel.select.clone(),
                solution: *solution,
                mode: if *solution {
                    SnapshotMode::ComparePending
                } else {
                    SnapshotMode::Compare
                },
                html: *html,
            };
            if *watch {
                return watch::check_watch(&ws, options);
            }
            return ops::check::check(&ws, &options);
        }
        Command::Stress {
            sel,
            solution,
            cycles,
        } => return ops::stress::run(&ws, &sel.select, *solution, *cycles),
        Command::Bless { sel } => return ops::bless::run(&ws, &sel.select),
        Command::Grade {
            lab,
            submissions,
            out,
            jobs,
            shard,
            format,
            merge,
            seed,
        } => {
            if !merge.is_empty() {
                return klab::grade::merge(&ws, lab, merge, out, *format);
            }
            let opts = klab::grade::GradeOptions {
                lab: lab.clone(),
                submissions: submissions.clone(),
                out: out.clone(),
                jobs: *jobs,
                shard: *shard,
                format: *format,
                seed: *seed,
            };
            return klab::grade::grade(&ws, &opts);
        }
        Command::Bench {
            grade,
            lab,
            profiles,
            sandbox,
            edit_loop,
            fresh,
        } => {
            if *fresh {
                bench::fresh(&ws)?
            } else {
                bench::run(&ws, *grade, lab, *profiles, *sandbox, *edit_loop)?
            }
        }
        Command::Test => return setup::test(&ws),
    }
    Ok(true)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let grading = matches!(cli.command, Command::Grade { .. });
    let _ = ctrlc::set_handler(move || {
        let killed = klab::run::interrupt::interrupt();
        eprintln!("\ninterrupted: {killed} VM(s) killed");
        if !grading {
            std::process::exit(130);
        }
    });
    let result = run(cli);
    if klab::run::interrupt::requested() {
        if let Err(e) = &result {
            eprintln!("error: {e:#}");
        }
        return ExitCode::from(130);
    }
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
