//! The `netprophet` binary's building blocks: one module per subcommand
//! (`cmd`), the prediction cache the refresh cycle writes and the server
//! reads (`cache`), the HTTP endpoint (`serve`) and the offline replay of
//! recorded telemetry used by the demo (`replay`).
//!
//! This library exists so integration tests can drive the server with an
//! injected clock; it is not published.
#![forbid(unsafe_code)]

pub mod atlas_args;
pub mod cache;
pub mod clobber;
pub mod cmd;
pub mod flags;
pub mod input;
pub mod model_card;
pub mod plots;
pub mod protocol;
pub mod recipe;
pub mod refresh;
pub mod replay;
pub mod report;
pub mod serve;
pub mod spill;
pub mod telemetry;

/// An error and its causes on one line, `what failed: why: deeper cause`,
/// as the exit-code contract promises (the reason used to be on a second
/// line). A cause whose text its parent already shows (`{path}: {source}`
/// errors) is not repeated, and line breaks inside a message become spaces.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string().replace(['\n', '\r'], " ");
        let text = text.trim();
        if text.is_empty() || line.contains(text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text);
    }
    line
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_error_chain_is_one_line_without_repeats() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let err = anyhow::Error::new(io)
            .context("m.json: No such file")
            .context("loading the model");
        assert_eq!(
            super::one_line(&err),
            "loading the model: m.json: No such file"
        );
        let err = anyhow::anyhow!("line one\nline two").context("reading");
        assert_eq!(super::one_line(&err), "reading: line one line two");
    }
}
