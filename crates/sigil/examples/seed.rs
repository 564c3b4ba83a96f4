//! The seed rule (rules/cloudtrail/sts_get_caller_identity.yml) converted three ways:
//! a Lucene query, SQL for each dialect, and an in-process matcher run on two events.
//!
//! `cargo run -p sigil --example seed`

const SEED: &str = include_str!("../../../rules/cloudtrail/sts_get_caller_identity.yml");

fn main() -> Result<(), sigil::Error> {
    let rule = sigil::Rule::from_yaml_named(SEED, "rules/cloudtrail/sts_get_caller_identity.yml")?;
    println!("rule:    {}", rule.meta().title);
    println!("IR:      {}", rule.ir().conditions[0]);

    // 1. Lucene / Elasticsearch query_string
    println!("lucene:  {}", rule.to_lucene()?);

    // 2. SQL, one query per dialect (flat table `events`)
    for dialect in [
        sigil::Dialect::Athena,
        sigil::Dialect::Postgres,
        sigil::Dialect::Sqlite,
    ] {
        println!(
            "{:<8} {}",
            format!("{}:", dialect.name()),
            rule.to_sql(dialect)?
        );
    }

    // 3. In-process matcher over JSON events
    let matcher = rule.compile_matcher()?;
    let hit = serde_json::json!({
        "eventSource": "eu-west-1.sts.amazonaws.com",
        "eventName": "GetCallerIdentity",
        "userIdentity": {"type": "IAMUser"},
    });
    let miss = serde_json::json!({
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
    });
    println!(
        "matcher: {} / {}",
        matcher.matches(&hit),
        matcher.matches(&miss)
    );
    assert!(matcher.matches(&hit) && !matcher.matches(&miss));
    Ok(())
}
