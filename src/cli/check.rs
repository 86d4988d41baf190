//! `check-config`: the configuration validated whole, its catalog and rules printed, or
//! each mistake at its line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::{Config, Settings};

pub(super) fn check_config(path: Option<PathBuf>) -> ExitCode {
    let lookup = |name: &str| std::env::var(name).ok();
    let shown = match (&path, lookup(crate::config::CONFIG_TEXT_VARIABLE).filter(|t| !t.trim().is_empty())) {
        (None, Some(_)) => PathBuf::from(crate::config::CONFIG_TEXT_VARIABLE),
        _ => path.clone().unwrap_or_else(|| Settings::config_path(&lookup)),
    };
    let config = match Config::from_environment(&lookup, path.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            print_config_errors(&e);
            return ExitCode::from(2);
        }
    };
    let (_, mistakes) = Settings::read(&lookup, &config.tailer);
    if !mistakes.is_empty() {
        for mistake in mistakes {
            eprintln!("error: {mistake}");
        }
        return ExitCode::from(2);
    }
    print!("{}", describe(&shown, &config));
    ExitCode::SUCCESS
}

/// Every mistake of a configuration, one `error:` line each, in the order of the file.
pub(super) fn print_config_errors(e: &crate::config::ConfigError) {
    for mistake in e.all() {
        let alone = crate::config::ConfigError { also: Vec::new(), ..mistake.clone() };
        eprintln!("error: {alone}");
    }
}

/// What `check-config` prints for a valid file.
pub fn describe(path: &Path, config: &Config) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let plural = |n: usize, word: &str| if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") };
    let _ = writeln!(out, "{}: valid ({}, {})", path.display(), plural(config.jobs.len(), "job"), plural(config.rules.len(), "rule"));
    let _ = writeln!(out, "\nCatalog:");
    for job in &config.jobs {
        let tags = if job.tags.is_empty() { String::new() } else { format!(" [tags: {}]", job.tags.join(", ")) };
        let _ = writeln!(
            out,
            "  {:<24} {:<8} {} {} ({}){tags}",
            job.name.as_str(),
            job.job.environment.as_str(),
            job.job.account.as_str(),
            job.job.configuration_id.as_str(),
            job.job.configuration_type.as_str(),
        );
    }
    let _ = writeln!(out, "\nRules (first match decides, no match denies):");
    for rule in &config.rules {
        let _ = writeln!(out, "  {rule}");
    }
    for warning in &config.warnings {
        let _ = writeln!(out, "\nwarning: {warning}");
    }
    out
}
