//! Logging: JSON lines on stdout by default, `LOG_FORMAT=pretty` for a terminal.
//! `RUST_LOG` filters as usual; the default keeps our own crate at info and libraries at warn.

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::LogFormat;

/// Services log to stdout; the CLI logs to stderr so that its stdout stays the itinerary.
pub fn init(format: LogFormat, to_stderr: bool) {
    // The CLI keeps quiet unless asked; services log their own work at info.
    let default = if to_stderr { "warn" } else { "warn,planner=info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let writer = fmt::writer::BoxMakeWriter::new(move || -> Box<dyn std::io::Write> {
        if to_stderr {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        }
    });
    let builder = fmt().with_env_filter(filter).with_writer(writer);
    // try_init: a second initialisation (tests, `dev`) is ignored; the first one wins.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
