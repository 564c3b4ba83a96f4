//! Lucene engine tests. Skipped (loudly) without Java/Lucene, unless SIGIL_REQUIRE_ENGINES=1.

use std::time::Instant;

use serde_json::{json, Value};
use sigil_engines::{IndexMode, LuceneEngine};

fn events() -> Vec<Value> {
    vec![
        json!({
            "user": "Alice",
            "path": "C:\\Windows\\System32\\cmd.exe",
            "url": "http://x/y",
            "msg": "hello world",
            "n": 5,
            "tags": ["a", "b"],
            "userIdentity": {"arn": "arn:aws:iam::1:user/Bob", "type": "IAMUser"},
            "flag": true
        }),
        json!({
            "user": "bob",
            "path": "C:\\temp\\evil*.exe",
            "n": 10,
            "msg": "Hello",
            "nothing": null,
            "tags": []
        }),
        json!({
            "user": "carol",
            "n": 2.5,
            "userIdentity": {"type": "Root"},
            "empty": ""
        }),
    ]
}

fn engine() -> Option<LuceneEngine> {
    LuceneEngine::start().expect("starting Lucene")
}

fn check(engine: &mut LuceneEngine, mode: IndexMode, cases: &[(&str, &[usize])]) {
    let queries: Vec<&str> = cases.iter().map(|(q, _)| *q).collect();
    let got = engine
        .run_detailed(&events(), &queries, mode)
        .expect("batch");
    let mut failures = Vec::new();
    for ((q, want), got) in cases.iter().zip(got) {
        match got {
            Ok(hit) if hit.matches == *want => {}
            Ok(hit) => failures.push(format!(
                "{mode:?} {q:?}: want {want:?}, got {:?} (parsed as {})",
                hit.matches, hit.parsed
            )),
            Err(e) => failures.push(format!("{mode:?} {q:?}: error {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn exact_mode() {
    let Some(mut e) = engine() else { return };
    assert!(e.version().starts_with('8'), "version {}", e.version());
    check(
        &mut e,
        IndexMode::Exact,
        &[
            // terms, case-sensitive
            ("user:Alice", &[0]),
            ("user:alice", &[]),
            ("user:bob", &[1]),
            // wildcards, leading wildcards
            ("user:b*", &[1]),
            ("user:*ice", &[0]),
            ("user:?ob", &[1]),
            (r"path:*\\System32\\*", &[0]),
            // escaped special characters
            (r"url:http\:\/\/x\/y", &[0]),
            (r"msg:hello\ world", &[0]),
            (r#"msg:"hello world""#, &[0]),
            (r"path:C\:\\temp\\evil\*.exe", &[1]),
            (r"path:*evil\*.exe", &[1]),
            (r"path:*cmd\*.exe", &[]),
            (r"userIdentity.arn:arn\:aws\:iam\:\:1\:user\/Bob", &[0]),
            // regexp
            ("user:/[ab].*/", &[1]),
            ("user:/A.*e/", &[0]),
            ("userIdentity.arn:/.*user\\/B.b/", &[0]),
            // numeric ranges (lexicographically "10" < "5")
            ("n:>5", &[1]),
            ("n:>=5", &[0, 1]),
            ("n:<3", &[2]),
            ("n:<=2.5", &[2]),
            ("n:[1 TO 5]", &[0, 2]),
            ("n:{2.5 TO 10}", &[0]),
            ("n:[10 TO *]", &[1]),
            ("n:5", &[0]),
            ("n:5.0", &[0]),
            // term range on a keyword field
            ("user:[a TO c]", &[1]),
            // _exists_ and field:*
            ("_exists_:userIdentity", &[0, 2]),
            ("_exists_:userIdentity.arn", &[0]),
            ("_exists_:nothing", &[]),
            ("_exists_:tags", &[0]),
            ("_exists_:empty", &[2]),
            ("userIdentity.type:*", &[0, 2]),
            ("empty:\"\"", &[2]),
            // NOT and pure negative groups (ES semantics)
            ("NOT user:bob", &[0, 2]),
            ("-user:bob", &[0, 2]),
            ("user:* AND NOT n:5", &[1, 2]),
            ("(NOT user:bob) AND n:>1", &[0, 2]),
            ("NOT _exists_:userIdentity", &[1]),
            // default operator OR, AND, groups
            ("user:Alice user:bob", &[0, 1]),
            ("user:(Alice OR carol) AND n:>3", &[0]),
            // unbound terms search every field
            ("Root", &[2]),
            ("hello", &[]),
            ("Hello", &[1]),
            ("\"hello world\"", &[0]),
            ("*System32*", &[0]),
            ("5", &[0]),
            ("*:carol", &[2]),
            ("*:*", &[0, 1, 2]),
            // multi-valued fields, booleans
            ("tags:b", &[0]),
            ("tags:(a AND b)", &[0]),
            ("flag:true", &[0]),
        ],
    );
}

#[test]
fn lowercase_mode() {
    let Some(mut e) = engine() else { return };
    check(
        &mut e,
        IndexMode::Lowercase,
        &[
            ("user:alice", &[0]),
            ("user:ALICE", &[0]),
            ("user:AL*", &[0]),
            ("user:*ICE", &[0]),
            ("user:?OB", &[1]),
            ("user:A?ice", &[0]),
            (r#"msg:"HELLO WORLD""#, &[0]),
            (r"path:*\\SYSTEM32\\*", &[0]),
            (r"path:*EVIL\*.EXE", &[1]),
            // regexps are lower-cased as a whole (like ES on normalized keywords)
            ("user:/ALICE/", &[0]),
            ("user:/[AB].*/", &[0, 1]),
            // escaped characters inside wildcard patterns are NOT lower-cased
            (r"user:\Al?ce", &[]),
            // ...but a prefix query drops escapes first, then normalizes
            (r"user:\AL*", &[0]),
            ("hello", &[1]),
            ("IAMUSER", &[0]),
            ("userIdentity.type:iamuser", &[0]),
            // field names and _exists_ are never lower-cased
            ("USER:alice", &[]),
            ("_exists_:userIdentity.arn", &[0]),
            ("_exists_:useridentity.arn", &[]),
            ("n:>5", &[1]),
        ],
    );
}

#[test]
fn parse_errors_are_per_query() {
    let Some(mut e) = engine() else { return };
    let got = e
        .run(
            &events(),
            &["user:(", "user:bob", "user:/[/", "a AND"],
            IndexMode::Exact,
        )
        .expect("batch");
    assert!(got[0].is_err(), "{got:?}");
    assert_eq!(got[1], Ok(vec![1]));
    assert!(got[2].is_err(), "{got:?}");
    assert!(got[3].is_err(), "{got:?}");
    // still usable afterwards, with another index
    let again = e
        .run(
            &[json!({"a": "x\ny\tz\\"})],
            &["a:x\\\ny\\\tz\\\\", "a:*z*"],
            IndexMode::Exact,
        )
        .expect("second batch");
    assert_eq!(again, vec![Ok(vec![0]), Ok(vec![0])]);
}

#[test]
fn shared_engine() {
    let first = LuceneEngine::with_shared(|e| e.run(&events(), &["user:bob"], IndexMode::Exact))
        .expect("shared");
    let Some(first) = first else { return };
    assert_eq!(first.expect("batch"), vec![Ok(vec![1])]);
    let second =
        LuceneEngine::with_shared(|e| e.run(&events(), &["user:carol"], IndexMode::Lowercase))
            .expect("shared")
            .expect("available the second time");
    assert_eq!(second.expect("batch"), vec![Ok(vec![2])]);
}

#[test]
fn throughput_1000_queries_100_events() {
    let Some(mut e) = engine() else { return };
    let events: Vec<Value> = (0..100)
        .map(|i| {
            json!({
                "EventID": 4600 + i,
                "Image": format!("C:\\Windows\\System32\\tool{i}.exe"),
                "CommandLine": format!("tool{i} --flag value{} /x", i % 7),
                "User": {"Name": format!("user{}", i % 13), "Domain": "CORP"},
            })
        })
        .collect();
    let queries: Vec<String> = (0..1000)
        .map(|i| match i % 5 {
            0 => format!("EventID:{}", 4600 + i % 100),
            1 => format!(r"Image:*\\tool{}.exe", i % 100),
            2 => format!(
                "CommandLine:*value{}* AND NOT User.Name:user{}",
                i % 7,
                i % 13
            ),
            3 => format!("EventID:[{} TO {}]", 4600 + i % 50, 4650 + i % 50),
            _ => format!("User.Name:/user{}[0-9]?/ OR _exists_:Missing{i}", i % 10),
        })
        .collect();
    // warm-up, then measure
    e.run(&events, &queries, IndexMode::Lowercase)
        .expect("warm-up");
    let t = Instant::now();
    let got = e.run(&events, &queries, IndexMode::Exact).expect("batch");
    let exact = t.elapsed();
    let t = Instant::now();
    e.run(&events, &queries, IndexMode::Lowercase)
        .expect("batch");
    let lower = t.elapsed();
    eprintln!("Lucene: 1000 queries x 100 events: exact {exact:?}, lowercase {lower:?}");
    assert!(
        got.iter().all(|r| r.is_ok()),
        "{:?}",
        got.iter().find(|r| r.is_err())
    );
    assert_eq!(got[0], Ok(vec![0]));
    assert_eq!(got[1], Ok(vec![1]));
    assert!(exact.as_secs() < 30, "too slow: {exact:?}");
}
