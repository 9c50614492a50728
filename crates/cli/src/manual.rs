//! `baton completions SHELL` and `baton man`: the shell completion scripts and the manual
//! pages, generated from the same clap definition as `--help` (clap_complete, clap_mangen), so
//! they never drift from the commands.

use std::path::Path;

use clap::CommandFactory;

use crate::args::Cli;
use crate::exit::{CliError, Result};

/// The shells `baton completions` writes a script for.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Prints the completion script for `shell`.
pub fn completions(shell: Shell) -> Result<u8> {
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(generator, &mut Cli::command(), "baton", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    Ok(0)
}

/// Prints the manual page of `baton`, or writes one page per command into `dir`.
pub fn man(dir: Option<&Path>) -> Result<u8> {
    let command = Cli::command();
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(CliError::io(format!("making {}", dir.display())))?;
            clap_mangen::generate_to(command, dir).map_err(CliError::io(format!(
                "writing the manual pages into {}",
                dir.display()
            )))?;
            errln!("wrote the manual pages into {}", dir.display());
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .map_err(CliError::io("rendering the manual page"))?;
            out!("{}", String::from_utf8_lossy(&page));
        }
    }
    Ok(0)
}
