//! The README's Rust code is compiled code: every ```` ```rust ```` block is preceded by
//! `<!-- from: path -->` naming the file it was copied from (an example, built by `cargo
//! test`), and must appear there line for line. A block that drifts from its example fails here.

use std::path::Path;

/// Each Rust block of `text` with the path its `<!-- from: … -->` line names, if any.
fn rust_blocks(text: &str) -> Vec<(Option<String>, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().peekable();
    let mut previous = None::<String>;
    while let Some(line) = lines.next() {
        if line.trim() == "```rust" {
            let source = previous
                .as_deref()
                .and_then(|p| p.trim().strip_prefix("<!-- from: "))
                .and_then(|p| p.strip_suffix(" -->"))
                .map(str::to_owned);
            let body = lines
                .by_ref()
                .take_while(|l| l.trim() != "```")
                .map(str::to_owned)
                .collect();
            blocks.push((source, body));
        }
        if !line.trim().is_empty() {
            previous = Some(line.to_owned());
        }
    }
    blocks
}

/// Whether `body` appears in `file` as consecutive lines.
fn contains_lines(file: &str, body: &[String]) -> bool {
    let lines: Vec<&str> = file.lines().collect();
    !body.is_empty()
        && lines
            .windows(body.len())
            .any(|window| window.iter().zip(body).all(|(a, b)| *a == b))
}

#[test]
fn every_readme_rust_block_is_a_copy_of_the_compiled_example_it_names() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md is readable");
    let blocks = rust_blocks(&readme);
    assert!(!blocks.is_empty(), "the README shows Rust code");
    for (source, body) in blocks {
        let source = source.unwrap_or_else(|| {
            panic!(
                "a README Rust block starting {:?} names no source: put `<!-- from: examples/….rs -->` before it",
                body.first()
            )
        });
        let file = std::fs::read_to_string(root.join(&source))
            .unwrap_or_else(|e| panic!("the README names `{source}`, which cannot be read: {e}"));
        assert!(
            contains_lines(&file, &body),
            "the README's block from `{source}` (starting {:?}) is not in that file as written; copy it again",
            body.first()
        );
    }
}

#[test]
fn a_drifted_block_is_caught() {
    let file = "fn a() {}\nfn b() {}\nfn c() {}\n";
    let copied: Vec<String> = vec!["fn a() {}".into(), "fn b() {}".into()];
    let drifted: Vec<String> = vec!["fn a() {}".into(), "fn x() {}".into()];
    assert!(contains_lines(file, &copied));
    assert!(!contains_lines(file, &drifted));
    let text = "<!-- from: x.rs -->\n```rust\nfn a() {}\n```\n\n```rust\nfn b() {}\n```\n";
    let blocks = rust_blocks(text);
    assert_eq!(blocks[0].0.as_deref(), Some("x.rs"));
    assert_eq!(
        blocks[1].0, None,
        "a block without a `from` line names no source"
    );
}
