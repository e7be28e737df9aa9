//! `tessel completions SHELL` and `tessel man`, as packaging runs them:
//! each shell's script names the commands and the flags of `tessel up`,
//! the man page is roff that documents the commands, and `man --out`
//! writes one page per command.

mod cli;

use cli::{fails, ok, Dir};

#[test]
fn completions_for_each_shell_name_the_commands() {
    let dir = Dir::new("manual-cli", "completions");
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef tessel"),
        ("fish", "complete -c tessel"),
    ] {
        let script = ok(dir.path(), &["completions", shell]);
        assert!(script.contains(marker), "{shell}: no `{marker}`");
        for word in ["status", "up", "metrics", "network"] {
            assert!(script.contains(word), "{shell}: no `{word}`");
        }
        // Hidden commands stay out of the scripts.
        assert!(!script.contains("test-flood"), "{shell}: a hidden command");
    }
    fails(
        dir.path(),
        &["completions", "powershell"],
        "possible values: bash, zsh, fish",
    );
}

#[test]
fn the_man_page_documents_the_commands() {
    let dir = Dir::new("manual-cli", "man");
    let page = ok(dir.path(), &["man"]);
    assert!(page.contains(".TH tessel 1"), "no title line");
    for word in ["status", "completions", "peer\\-to\\-peer overlay"] {
        assert!(page.contains(word), "the page lacks `{word}`");
    }
    let out = dir.path().join("pages");
    ok(dir.path(), &["man", "--out", out.to_str().unwrap()]);
    for page in ["tessel.1", "tessel-up.1", "tessel-network-new.1"] {
        let text = std::fs::read_to_string(out.join(page)).expect(page);
        assert!(text.contains(".TH"), "{page} is not roff");
    }
    let up = std::fs::read_to_string(out.join("tessel-up.1")).unwrap();
    assert!(up.contains("\\-\\-metrics"), "tessel-up(1) lacks --metrics");
    assert!(
        !out.join("tessel-man.1").exists(),
        "a page for the hidden man"
    );
}
