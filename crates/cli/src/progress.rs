//! Terminal output: progress bars on a terminal (nothing when standard error
//! is piped), and writing results to standard output without panicking when
//! the reader goes away (`medtwin ... | head`).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A byte-based progress bar, hidden unless standard error is a terminal.
pub(crate) fn bytes(total: u64, what: &str) -> ProgressBar {
    bar(total, what, "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
}

/// A count-based progress bar, hidden unless standard error is a terminal.
pub(crate) fn count(total: u64, what: &str) -> ProgressBar {
    bar(total, what, "{msg} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
}

fn bar(total: u64, what: &str, template: &str) -> ProgressBar {
    let pb = ProgressBar::new(total);
    if std::io::stderr().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::stderr_with_hz(8));
        pb.set_style(
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> "),
        );
        pb.set_message(what.to_string());
    } else {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb
}

/// Writes `text` to standard output. When the reader has closed the pipe the
/// program stops quietly with status 0, as Unix tools do.
pub(crate) fn stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => other,
    }
}
