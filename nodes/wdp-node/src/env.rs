//! Configuration from the node's environment (the `env:` block of the dataflow YAML). Every
//! error names the variable and its value, so a user knows which line of the YAML to fix.
//!
//! A variable that is unset, empty or only whitespace counts as absent; values are trimmed.

use eyre::{eyre, Result};
use std::path::PathBuf;
use std::str::FromStr;

/// The variable's trimmed value, `None` when unset or blank.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The variable's value, or an error saying that it is required and what it is for.
pub fn required(name: &str, what: &str) -> Result<String> {
    var(name).ok_or_else(|| eyre!("{name} is required ({what})"))
}

/// The variable parsed as `T`, `None` when absent; a value that does not parse is an error
/// `NAME=value: reason`.
pub fn parse<T: FromStr>(name: &str) -> Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    var(name)
        .map(|v| v.parse::<T>().map_err(|e| eyre!("{name}={v}: {e}")))
        .transpose()
}

/// The variable parsed as `T`, `default` when absent.
pub fn parse_or<T: FromStr>(name: &str, default: T) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    Ok(parse(name)?.unwrap_or(default))
}

/// A comma-separated list (items trimmed, empty items left out); empty when absent.
pub fn list(name: &str) -> Vec<String> {
    var(name)
        .map(|v| {
            v.split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// One of `choices` (the first is the default when absent); anything else is an error listing
/// them.
pub fn choice(name: &str, choices: &[&str]) -> Result<String> {
    match var(name) {
        None => Ok(choices.first().map_or(String::new(), |c| (*c).to_owned())),
        Some(v) if choices.contains(&v.as_str()) => Ok(v),
        Some(v) => Err(eyre!("{name}={v}: expected one of {}", choices.join(", "))),
    }
}

/// A path as written in the dataflow: relative paths are taken from the dataflow's folder
/// (`WDP_DATAFLOW_DIR`) when it is set, else from the working directory
/// (which `dora` sets to the dataflow's folder).
pub fn dataflow_path(value: &str) -> PathBuf {
    let p = PathBuf::from(value.trim());
    match var("WDP_DATAFLOW_DIR") {
        Some(dir) if p.is_relative() => PathBuf::from(dir).join(p),
        _ => p,
    }
}

/// A document given inline or as a file: the variable's text when it looks like YAML/JSON
/// (a newline, `{`, `[` or `key: value`), else the contents of the file it names
/// ([`dataflow_path`]). `None` when absent.
pub fn inline_or_file(name: &str) -> Result<Option<String>> {
    let Some(value) = var(name) else {
        return Ok(None);
    };
    let inline =
        value.contains('\n') || value.contains('{') || value.contains('[') || value.contains(": ");
    if inline {
        return Ok(Some(value));
    }
    let path = dataflow_path(&value);
    std::fs::read_to_string(&path)
        .map(Some)
        .map_err(|e| eyre!("{name}={value}: reading {}: {e}", path.display()))
}

/// The input ids the dataflow wires to this node, read from dora's node configuration before
/// the node connects (`None` outside a dataflow). Lets a node choose what to be before
/// `DoraNode::init_from_env`.
pub fn wired_inputs() -> Option<Vec<String>> {
    let raw = std::env::var("DORA_NODE_CONFIG").ok()?;
    let doc: serde_yaml::Value = serde_yaml::from_str(&raw).ok()?;
    let inputs = doc.get("run_config")?.get("inputs")?.as_mapping()?;
    Some(
        inputs
            .keys()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_variable() {
        std::env::set_var("WDP_NODE_TEST_N", " 12 ");
        assert_eq!(parse_or("WDP_NODE_TEST_N", 3usize).expect("n"), 12);
        std::env::set_var("WDP_NODE_TEST_N", "twelve");
        let e = parse::<usize>("WDP_NODE_TEST_N").expect_err("not a number");
        assert!(e.to_string().starts_with("WDP_NODE_TEST_N=twelve:"), "{e}");
        std::env::set_var("WDP_NODE_TEST_N", "  ");
        assert_eq!(parse_or("WDP_NODE_TEST_N", 3usize).expect("blank"), 3);
        let e = required("WDP_NODE_TEST_N", "a count").expect_err("blank is absent");
        assert_eq!(e.to_string(), "WDP_NODE_TEST_N is required (a count)");
        std::env::set_var("WDP_NODE_TEST_N", "b");
        let e = choice("WDP_NODE_TEST_N", &["a", "c"]).expect_err("not a choice");
        assert_eq!(e.to_string(), "WDP_NODE_TEST_N=b: expected one of a, c");
        std::env::set_var("WDP_NODE_TEST_N", " x, ,y ");
        assert_eq!(list("WDP_NODE_TEST_N"), ["x", "y"]);
        std::env::set_var("WDP_NODE_TEST_N", "{a: 1}");
        assert_eq!(
            inline_or_file("WDP_NODE_TEST_N")
                .expect("inline")
                .as_deref(),
            Some("{a: 1}")
        );
        std::env::set_var("WDP_NODE_TEST_N", "no-such-file.yml");
        let e = inline_or_file("WDP_NODE_TEST_N").expect_err("missing file");
        assert!(e
            .to_string()
            .starts_with("WDP_NODE_TEST_N=no-such-file.yml"));
        std::env::remove_var("WDP_NODE_TEST_N");
    }
}
