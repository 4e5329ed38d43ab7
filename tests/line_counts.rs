//! The same agent is not much longer in Rust: the seed's research agent on the message layer
//! (`examples/chat_research_agent.rs`) against the same agent in LangGraph
//! (`examples/langgraph/chat_research_agent.py`), both counted without blank lines, comments
//! and docstrings, as a formatter leaves them. The goal is 1.2×; the test holds today's 1.33×
//! (81 lines against 61) from growing. What is left over LangGraph's count is the DSL's own:
//! the route's enum, the graph's module, closing braces.

use std::path::Path;

/// Lines of code: not blank, not a comment, not inside a Python docstring.
fn code_lines(text: &str, comment: &str) -> usize {
    let mut in_docstring = false;
    text.lines()
        .map(str::trim)
        .filter(|line| {
            if line.starts_with("\"\"\"") {
                let closes_here = line.len() > 3 && line.ends_with("\"\"\"");
                if !closes_here {
                    in_docstring = !in_docstring;
                }
                return false;
            }
            !in_docstring && !line.is_empty() && !line.starts_with(comment)
        })
        .count()
}

#[test]
fn the_message_layer_research_agent_stays_within_a_third_more_lines_than_langgraphs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rust = std::fs::read_to_string(root.join("examples/chat_research_agent.rs")).unwrap();
    let python =
        std::fs::read_to_string(root.join("examples/langgraph/chat_research_agent.py")).unwrap();
    let (rust, python) = (code_lines(&rust, "//"), code_lines(&python, "#"));
    println!(
        "Rust {rust} lines, LangGraph {python} lines: {:.2}×",
        rust as f64 / python as f64
    );
    assert!(
        rust as f64 <= 1.35 * python as f64,
        "the Rust agent has {rust} lines against LangGraph's {python}"
    );
}

#[test]
fn comments_blank_lines_and_docstrings_do_not_count() {
    let python = "\"\"\"Doc\nstring.\n\"\"\"\n\nimport os\n# note\nx = 1\n\"\"\"one line\"\"\"\n";
    assert_eq!(code_lines(python, "#"), 2);
    let rust = "//! doc\n\nfn main() {\n    // note\n}\n";
    assert_eq!(code_lines(rust, "//"), 2);
}
