use stategraph::NodeError;

#[derive(serde::Deserialize)]
struct SearchArgs {
    query: String,
}

/// Searches the web.
#[stategraph::tool]
async fn search(args: SearchArgs) -> Result<String, NodeError> {
    Ok(args.query)
}

fn main() {}
