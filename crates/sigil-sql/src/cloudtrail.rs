//! The AWS Athena CloudTrail table, as the Athena documentation ("Create a table for
//! CloudTrail logs in Athena using manual partitioning") defines it, and how Sigma's
//! CloudTrail field names map onto it.
//!
//! Columns are lower-case; `useridentity`, `addendum` and `tlsdetails` are ROWs (Hive
//! `STRUCT`), so `userIdentity.sessionContext.sessionIssuer.userName` becomes
//! `useridentity.sessioncontext.sessionissuer.username`. `requestparameters`,
//! `responseelements`, `additionaleventdata`, `serviceeventdetails` and
//! `edgedevicedetails` are JSON documents stored as strings, so
//! `requestParameters.bucketName` becomes `json_extract_scalar(requestparameters,
//! '$.bucketName')` (JSON keys keep their case). Field names are matched
//! case-insensitively against the columns; a field that is not in the table is an error.

use crate::{quote_str, UNSUPPORTED};

/// Default table name of the `cloudtrail` layout.
pub const CLOUDTRAIL_TABLE: &str = "cloudtrail_logs";

/// A column type of the table.
enum Ty {
    Str,
    /// A string column holding a JSON document.
    Json,
    Row(&'static [(&'static str, Ty)]),
    Map,
    ArrayOfRow(&'static [(&'static str, Ty)]),
}

use Ty::*;

const SESSION_ISSUER: &[(&str, Ty)] = &[
    ("type", Str),
    ("principalid", Str),
    ("arn", Str),
    ("accountid", Str),
    ("username", Str),
];

const SESSION_CONTEXT: &[(&str, Ty)] = &[
    (
        "attributes",
        Row(&[("mfaauthenticated", Str), ("creationdate", Str)]),
    ),
    ("sessionissuer", Row(SESSION_ISSUER)),
    ("ec2roledelivery", Str),
    (
        "webidfederationdata",
        Row(&[("federatedprovider", Str), ("attributes", Map)]),
    ),
];

const USER_IDENTITY: &[(&str, Ty)] = &[
    ("type", Str),
    ("principalid", Str),
    ("arn", Str),
    ("accountid", Str),
    ("invokedby", Str),
    ("accesskeyid", Str),
    ("username", Str),
    (
        "onbehalfof",
        Row(&[("userid", Str), ("identitystorearn", Str)]),
    ),
    ("sessioncontext", Row(SESSION_CONTEXT)),
];

/// The columns, in the documented order.
const COLUMNS: &[(&str, Ty)] = &[
    ("eventversion", Str),
    ("useridentity", Row(USER_IDENTITY)),
    ("eventtime", Str),
    ("eventsource", Str),
    ("eventname", Str),
    ("awsregion", Str),
    ("sourceipaddress", Str),
    ("useragent", Str),
    ("errorcode", Str),
    ("errormessage", Str),
    ("requestparameters", Json),
    ("responseelements", Json),
    ("additionaleventdata", Json),
    ("requestid", Str),
    ("eventid", Str),
    (
        "resources",
        ArrayOfRow(&[("arn", Str), ("accountid", Str), ("type", Str)]),
    ),
    ("eventtype", Str),
    ("apiversion", Str),
    ("readonly", Str),
    ("recipientaccountid", Str),
    ("serviceeventdetails", Json),
    ("sharedeventid", Str),
    ("vpcendpointid", Str),
    ("vpcendpointaccountid", Str),
    ("eventcategory", Str),
    (
        "addendum",
        Row(&[
            ("reason", Str),
            ("updatedfields", Str),
            ("originalrequestid", Str),
            ("originaleventid", Str),
        ]),
    ),
    ("sessioncredentialfromconsole", Str),
    ("edgedevicedetails", Json),
    (
        "tlsdetails",
        Row(&[
            ("tlsversion", Str),
            ("ciphersuite", Str),
            ("clientprovidedhostheader", Str),
        ]),
    ),
];

/// The SQL expression reading a Sigma CloudTrail field (`userIdentity.arn`,
/// `requestParameters.bucketName`, `eventName`, ...) from the table.
pub(crate) fn access(field: &str) -> Result<String, String> {
    let parts: Vec<&str> = field.split('.').collect();
    let mut level: &[(&str, Ty)] = COLUMNS;
    let mut sql = String::new();
    for (i, part) in parts.iter().enumerate() {
        let lower = part.to_ascii_lowercase();
        let Some((name, ty)) = level.iter().find(|(n, _)| *n == lower) else {
            let known: Vec<&str> = level.iter().map(|(n, _)| *n).collect();
            let within = if i == 0 {
                "the CloudTrail table".to_string()
            } else {
                format!("'{}'", parts[..i].join("."))
            };
            return Err(format!(
                "field '{field}' is not in the Athena CloudTrail table: {within} has no '{part}' (known: {})",
                known.join(", ")
            ));
        };
        if !sql.is_empty() {
            sql.push('.');
        }
        sql.push_str(name);
        let rest = &parts[i + 1..];
        match ty {
            Str => {
                if !rest.is_empty() {
                    return Err(format!(
                        "field '{field}': '{}' is a string column of the CloudTrail table, it has no sub-fields",
                        parts[..=i].join(".")
                    ));
                }
                return Ok(sql);
            }
            Json => {
                if rest.is_empty() {
                    return Ok(sql);
                }
                return Ok(format!(
                    "json_extract_scalar({sql}, {})",
                    quote_str(&json_path(rest)?)
                ));
            }
            Map => {
                return match rest {
                    [] => Ok(sql),
                    [key] => Ok(format!("element_at({sql}, {})", quote_str(key))),
                    _ => Err(format!(
                        "field '{field}': a map of strings has no nested fields"
                    )),
                }
            }
            ArrayOfRow(_) => {
                return Err(format!(
                    "{UNSUPPORTED}field '{field}': '{}' is an array of rows in the CloudTrail table; matching any element is not supported",
                    parts[..=i].join(".")
                ))
            }
            Row(fields) => {
                if rest.is_empty() {
                    return Ok(sql);
                }
                level = fields;
            }
        }
    }
    Ok(sql)
}

/// A JSONPath for Trino's `json_extract_scalar`: `$.a.b`, bracket form for other keys.
pub(crate) fn json_path(parts: &[&str]) -> Result<String, String> {
    let mut p = String::from("$");
    for part in parts {
        if is_plain_key(part) {
            p.push('.');
            p.push_str(part);
        } else if part.contains(['"', '\\']) {
            return Err(format!(
                "{UNSUPPORTED}JSON key '{part}' contains a quote or backslash, which a JSONPath cannot spell portably"
            ));
        } else {
            p.push_str(&format!("[\"{part}\"]"));
        }
    }
    Ok(p)
}

pub(crate) fn is_plain_key(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The `CREATE EXTERNAL TABLE` statement for the table (Hive DDL, as Athena takes it),
/// reading CloudTrail's files under `location` (an `s3://` URI).
pub fn athena_ddl(table: &str, location: &str) -> String {
    let cols = COLUMNS
        .iter()
        .map(|(n, t)| format!("  {n} {}", hive_type_top(t)))
        .collect::<Vec<_>>()
        .join(",\n");
    format!(
        "CREATE EXTERNAL TABLE {table} (\n{cols}\n)\n\
         COMMENT 'CloudTrail events (sigil: layout=cloudtrail)'\n\
         ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'\n\
         STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'\n\
         OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n\
         LOCATION {}\n\
         TBLPROPERTIES ('classification' = 'cloudtrail');\n",
        quote_str(location)
    )
}

fn hive_type_top(t: &Ty) -> String {
    match t {
        Row(fs) => {
            let inner = fs
                .iter()
                .map(|(n, t)| format!("    {n}: {}", hive_inline(t)))
                .collect::<Vec<_>>()
                .join(",\n");
            format!("STRUCT<\n{inner}\n  >")
        }
        other => hive_inline(other),
    }
}

/// Nested types on one line each.
fn hive_inline(t: &Ty) -> String {
    match t {
        Str | Json => "STRING".into(),
        Map => "MAP<STRING, STRING>".into(),
        Row(fs) => format!(
            "STRUCT<{}>",
            fs.iter()
                .map(|(n, t)| format!("{n}: {}", hive_inline(t)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ArrayOfRow(fs) => format!(
            "ARRAY<STRUCT<{}>>",
            fs.iter()
                .map(|(n, t)| format!("{n}: {}", hive_inline(t)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn duckdb_type(t: &Ty) -> String {
    match t {
        Str | Json => "VARCHAR".into(),
        Map => "MAP(VARCHAR, VARCHAR)".into(),
        Row(fs) => format!(
            "STRUCT({})",
            fs.iter()
                .map(|(n, t)| format!("{n} {}", duckdb_type(t)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ArrayOfRow(fs) => format!(
            "STRUCT({})[]",
            fs.iter()
                .map(|(n, t)| format!("{n} {}", duckdb_type(t)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The table's columns as `(column, DuckDB type, CloudTrail JSON key)`: what a test needs
/// to rebuild the table in DuckDB from CloudTrail JSON events (the key is the camel-case
/// name of the event's top-level field).
pub fn duckdb_columns() -> Vec<(String, String, String)> {
    COLUMNS
        .iter()
        .map(|(n, t)| (n.to_string(), duckdb_type(t), camel(n)))
        .collect()
}

/// The CloudTrail JSON key of a column (`useridentity` → `userIdentity`).
fn camel(col: &str) -> String {
    const KEYS: &[&str] = &[
        "eventVersion",
        "userIdentity",
        "eventTime",
        "eventSource",
        "eventName",
        "awsRegion",
        "sourceIPAddress",
        "userAgent",
        "errorCode",
        "errorMessage",
        "requestParameters",
        "responseElements",
        "additionalEventData",
        "requestID",
        "eventID",
        "resources",
        "eventType",
        "apiVersion",
        "readOnly",
        "recipientAccountId",
        "serviceEventDetails",
        "sharedEventID",
        "vpcEndpointId",
        "vpcEndpointAccountId",
        "eventCategory",
        "addendum",
        "sessionCredentialFromConsole",
        "edgeDeviceDetails",
        "tlsDetails",
    ];
    KEYS.iter()
        .find(|k| k.to_ascii_lowercase() == col)
        .map(|k| k.to_string())
        .unwrap_or_else(|| col.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_mapping() {
        assert_eq!(access("eventName").unwrap(), "eventname");
        assert_eq!(access("userIdentity.arn").unwrap(), "useridentity.arn");
        assert_eq!(
            access("userIdentity.sessionContext.sessionIssuer.userName").unwrap(),
            "useridentity.sessioncontext.sessionissuer.username"
        );
        assert_eq!(
            access("requestParameters.bucketName").unwrap(),
            "json_extract_scalar(requestparameters, '$.bucketName')"
        );
        assert_eq!(
            access("responseElements.ConsoleLogin").unwrap(),
            "json_extract_scalar(responseelements, '$.ConsoleLogin')"
        );
        assert_eq!(
            access("requestParameters.a-b.c").unwrap(),
            "json_extract_scalar(requestparameters, '$[\"a-b\"].c')"
        );
        assert_eq!(
            access("userIdentity.sessionContext.webIdFederationData.attributes.x").unwrap(),
            "element_at(useridentity.sessioncontext.webidfederationdata.attributes, 'x')"
        );
        assert!(access("userIdentity.nope")
            .unwrap_err()
            .contains("'userIdentity' has no 'nope'"));
        assert!(access("Image")
            .unwrap_err()
            .contains("not in the Athena CloudTrail table"));
        assert!(access("eventName.x").unwrap_err().contains("no sub-fields"));
        assert!(access("resources.arn")
            .unwrap_err()
            .starts_with(UNSUPPORTED));
    }

    #[test]
    fn every_column_has_its_event_key() {
        for (col, _, key) in duckdb_columns() {
            assert_eq!(key.to_ascii_lowercase(), col);
            assert_ne!(key, col.as_str().to_string() + "x");
        }
    }
}
