//! Progress bars on stderr, shown only when stderr is a terminal and `--quiet` is not given.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over `total` bytes, or a spinner when the total is unknown.
pub fn bytes(total: Option<u64>, quiet: bool, message: &'static str) -> ProgressBar {
    let bar = match total {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta})")
                .expect("template is valid")
                .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {msg} {bytes} ({bytes_per_sec})").expect("template is valid"),
        ),
    };
    finish_setup(bar, quiet, message)
}

/// A bar over `total` events.
pub fn events(total: u64, quiet: bool, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {human_pos}/{human_len} events ({per_sec}, ETA {eta})")
            .expect("template is valid")
            .progress_chars("=> "),
    );
    finish_setup(bar, quiet, message)
}

fn finish_setup(bar: ProgressBar, quiet: bool, message: &'static str) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    } else {
        bar.enable_steady_tick(Duration::from_millis(200));
    }
    bar.set_message(message);
    bar
}
