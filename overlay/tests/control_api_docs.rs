//! docs/control-api.md describes the whole control API: every command of
//! the request enum has its section, and every general error code its row.

use tessel_overlay::driver::control::api::{ErrorCode, Request};

fn docs() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/control-api.md");
    std::fs::read_to_string(path).expect("docs/control-api.md")
}

#[test]
fn every_command_is_documented() {
    let docs = docs();
    for name in Request::NAMES {
        assert!(
            docs.contains(&format!("\n### `{name}`\n")),
            "docs/control-api.md has no section for command `{name}`"
        );
    }
}

#[test]
fn every_error_code_is_documented() {
    let docs = docs();
    for code in ErrorCode::ALL {
        assert!(
            docs.contains(&format!("\n| `{}` |", code.as_str())),
            "docs/control-api.md does not explain error code `{}`",
            code.as_str()
        );
    }
}
