//! Progress bars with ETA for long work, and the log on stderr drawn above them: every bar
//! joins one `MultiProgress`, and the logger prints through it, so a warning never tears a bar.

use std::sync::LazyLock;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

static BARS: LazyLock<MultiProgress> = LazyLock::new(MultiProgress::new);

/// A bar of `len` steps named `what`; hidden when `visible` is false (tests, library callers).
pub fn bar(len: u64, what: &str, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = BARS.add(ProgressBar::new(len));
    bar.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
}

/// `env_logger` (level from `RUST_LOG`, warnings by default) printing above the bars.
struct AboveBars(env_logger::Logger);

impl log::Log for AboveBars {
    fn enabled(&self, m: &log::Metadata) -> bool {
        self.0.enabled(m)
    }
    fn log(&self, r: &log::Record) {
        if self.0.matches(r) {
            BARS.suspend(|| self.0.log(r));
        }
    }
    fn flush(&self) {
        self.0.flush()
    }
}

/// Install the logger (once; later calls do nothing).
pub fn init_logging() {
    let logger = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).build();
    let level = logger.filter();
    if log::set_boxed_logger(Box::new(AboveBars(logger))).is_ok() {
        log::set_max_level(level);
    }
}
