use stategraph::NodeError;

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct SearchArgs {
    query: String,
}

#[stategraph::tool]
async fn search(args: SearchArgs) -> Result<String, NodeError> {
    Ok(args.query)
}

fn main() {}
