//! Every validator: stable id, default severity, one-line description, and what it
//! corresponds to in pySigma (31 built-ins) or SigmaHQ's own checks.

use crate::Severity::{self, Error as E, Info as I, Warning as W};

/// A validator's static description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Stable identifier, used in output, `.sigil.toml` and exemptions.
    pub id: &'static str,
    pub severity: Severity,
    pub description: &'static str,
    /// Whether `--fix` can repair it mechanically.
    pub fixable: bool,
    /// The pySigma / SigmaHQ checks it covers (documentation).
    pub covers: &'static str,
}

const fn v(
    id: &'static str,
    severity: Severity,
    fixable: bool,
    description: &'static str,
    covers: &'static str,
) -> Validator {
    Validator {
        id,
        severity,
        description,
        fixable,
        covers,
    }
}

/// The id under which load and lowering errors are reported (not a validator one can
/// disable: a rule that does not load cannot be converted).
pub const SYNTAX: &str = "syntax";

/// All validators, grouped by topic. Ids never change meaning; new ones are appended.
pub const VALIDATORS: &[Validator] = &[
    v(SYNTAX, E, false, "the document does not load or lower (YAML, schema, modifiers, condition, `x of` patterns matching nothing, regex)",
        "pySigma parser errors, dangling_condition, invalid_modifier_combinations (repeated modifier), SigmaHQ JSON schema"),
    // --- identity and metadata
    v("id_missing", W, false, "the rule has no `id`", "pySigma identifier_existence"),
    v("id_duplicate", E, false, "two documents of the checked set share an `id`", "pySigma identifier_uniqueness; SigmaHQ duplicate-id check"),
    v("id_case", W, true, "the `id` UUID has upper-case hex digits", "Sigma spec (UUIDs in canonical lower-case form)"),
    v("id_not_v4", I, false, "the `id` is a UUID but not a random (version 4) one", "Sigma spec recommendation"),
    v("title_duplicate", W, false, "two documents of the checked set share a title", "pySigma duplicate_title"),
    v("title_length", W, false, "the title is longer than 110 characters", "SigmaHQ sigmahq_title_length"),
    v("title_style", I, false, "the title starts with 'Detect' or ends with a period", "SigmaHQ sigmahq_title_start, sigmahq_title_end"),
    v("description_missing", W, false, "the rule has no description", "SigmaHQ sigmahq_description_existence"),
    v("description_length", I, false, "the description is shorter than 16 characters", "SigmaHQ sigmahq_description_length"),
    v("author_missing", I, false, "the rule has no author", "SigmaHQ sigmahq_author_existence"),
    v("date_missing", W, false, "the rule has no `date`", "SigmaHQ sigmahq_date_existence"),
    v("date_format", W, true, "`date` or `modified` uses the legacy YYYY/MM/DD form instead of YYYY-MM-DD", "Sigma JSON schema date pattern"),
    v("modified_before_date", W, false, "`modified` is earlier than `date`", "SigmaHQ sigmahq_date_modified"),
    v("modified_without_date", W, false, "`modified` is set but `date` is not", "SigmaHQ sigmahq_modified_without_date"),
    v("modified_redundant", I, false, "`modified` equals `date`", "SigmaHQ sigmahq_redundant_modified"),
    v("status_missing", W, false, "the rule has no `status`", "SigmaHQ sigmahq_status_existence"),
    v("level_missing", W, false, "the rule has no `level`", "SigmaHQ sigmahq_level_existence"),
    v("enum_case", W, true, "`status` or `level` is not written in lower case", "Sigma JSON schema enums"),
    v("references_duplicate", W, false, "a reference is listed twice", "pySigma duplicate_references"),
    v("reference_not_url", I, false, "a reference is not an http(s) URL", "Sigma spec (references are links)"),
    v("reference_github_branch", I, false, "a GitHub reference points at a branch, not a commit", "SigmaHQ sigmahq_github_link"),
    v("reference_mitre", I, false, "a reference links to attack.mitre.org (use an attack.* tag)", "SigmaHQ sigmahq_mitre_link"),
    v("falsepositives_missing", I, false, "the rule lists no false positives", "SigmaHQ rule convention"),
    v("falsepositives_banned", W, false, "a false positive is a placeholder such as 'None' or 'Pentest'", "SigmaHQ sigmahq_falsepositives_banned_word"),
    v("falsepositives_capital", I, false, "a false positive does not start with a capital letter", "SigmaHQ sigmahq_falsepositives_capital"),
    v("custom_attribute_typo", W, false, "a top-level key is a misspelling of `related` or `references`", "pySigma custom_attributes"),
    v("fields_deprecated", I, false, "the `fields` attribute is deprecated in SigmaHQ rules", "SigmaHQ sigmahq_fields_existence"),
    v("filename_length", W, false, "the file name is shorter than 10 or longer than 90 characters", "pySigma filename_length"),
    v("filename_convention", I, false, "the file name is not lower-case [a-z0-9_] with a .yml extension", "SigmaHQ sigmahq_filename_convention, test_file_names"),
    v("filename_duplicate", W, false, "two files of the checked set have the same name", "pySigma duplicate_filename"),
    // --- tags
    v("tag_case", W, true, "a tag is not lower case", "Sigma tag appendix; pySigma tag_format"),
    v("tag_format", W, false, "a tag does not match namespace.name with [a-z0-9_-.]", "pySigma tag_format"),
    v("tag_namespace", W, false, "a tag namespace is not attack, car, cve, d3fend, detection, stp or tlp", "pySigma namespace_tag"),
    v("tag_duplicate", W, false, "a tag is listed twice", "pySigma duplicate_tag"),
    v("attack_unknown", W, false, "an attack.* tag is not an ATT&CK tactic, technique, group, software, campaign, mitigation or data source id (bundled ATT&CK v19.0)", "pySigma attacktag"),
    v("attack_deprecated", W, false, "an attack.* tag names a revoked or deprecated ATT&CK object", "pySigma attacktag"),
    v("attack_tactic_missing", I, false, "the rule tags ATT&CK techniques but none of their tactics", "SigmaHQ sigmahq_tags_technique_tactic"),
    v("cve_format", W, false, "a cve.* tag is not cve.YYYY-NNNN", "pySigma cvetag"),
    v("car_format", W, false, "a car.* tag is not car.YYYY-MM-NNN", "pySigma cartag"),
    v("detection_tag", W, false, "a detection.* tag is not dfir, emerging-threats or threat-hunting", "pySigma detection_tag"),
    v("stp_format", W, false, "an stp.* tag is not 1-5 optionally followed by a, u or k", "pySigma stptag"),
    v("tlp_value", W, false, "a tlp.* tag is not a TLP 1.0 or 2.0 colour", "pySigma tlptag, tlpv1_tag, tlpv2_tag"),
    v("d3fend_format", W, false, "a d3fend.* tag is not a D3FEND tactic, technique (d3-...) or artifact (d3f-...)", "pySigma d3_fendtag"),
    v("tag_namespace_unique", I, false, "more than one detection.* or tlp.* tag", "SigmaHQ sigmahq_tags_detection_unique, sigmahq_tags_tlp_unique"),
    // --- log source
    v("logsource_missing_product", W, false, "the log source names a category or service without the product it belongs to", "SigmaHQ tests/test_logsource.py"),
    v("logsource_unknown", W, false, "the product/category/service combination is not in SigmaHQ's logsource.json", "SigmaHQ tests/test_logsource.py, sigmahq_logsource_unknown"),
    v("logsource_custom_key", W, false, "the log source has keys other than category, product, service and definition", "pySigma fieldname_logsource"),
    v("logsource_case", W, false, "a log source value is not lower case or contains spaces", "Sigma spec log source naming"),
    v("specific_logsource", W, false, "a Sysmon or Security EventID is used where a generic category exists", "pySigma specific_instead_of_generic_logsource"),
    v("sysmon_missing_eventid", I, false, "a `service: sysmon` rule does not select an EventID", "SigmaHQ sigmahq_sysmon_missing_eventid, test_sysmon_rule_without_eventid"),
    v("category_eventid", I, false, "a Windows category rule selects EventID or Provider_Name", "SigmaHQ sigmahq_category_eventid, sigmahq_category_windows_provider_name"),
    // --- field names
    v("field_unknown", W, false, "a field is not known for the rule's log source (SigmaHQ logsource.json)", "SigmaHQ tests/test_logsource.py, sigmahq_field_unknown"),
    v("field_space", W, false, "a field name contains a space", "SigmaHQ sigmahq_space_fieldname"),
    // --- detection quality
    v("all_single_value", W, false, "`|all` is applied to a single value", "SigmaHQ sigmahq_all_with_single_value; pySigma invalid_modifier_combinations"),
    v("base64offset_without_contains", W, false, "`|base64offset` is not followed by `|contains`", "pySigma invalid_modifier_combinations"),
    v("wildcards_instead_of_modifiers", I, false, "every value is *x*, x* or *x where contains/startswith/endswith would say it", "pySigma wildcards_instead_of_modifiers"),
    v("value_duplicate", W, false, "a value is listed twice in one item", "SigmaHQ sigmahq_duplicate_values"),
    v("single_element_list", I, false, "a list holds a single value or a single map", "SigmaHQ test_selection_list_one_value"),
    v("search_unused", E, false, "a search identifier is not used by any condition", "pySigma dangling_detection"),
    v("condition_constant", E, false, "a condition is always true or always false", "sigil (boolean analysis of the lowered condition)"),
    v("all_of_them", I, false, "the condition uses `all of them`", "pySigma all_of_them_condition"),
    v("of_single_search", I, false, "`x of pattern` (or `them`) matches only one search identifier", "pySigma them_condition_with_single_detection; SigmaHQ sigmahq_ofthem_condition"),
    v("of_without_wildcard", I, false, "`x of name` uses a pattern without `*`", "SigmaHQ sigmahq_ofselection_condition"),
    v("regex_invalid", E, false, "a `|re` value does not compile with Rust's regex crate", "SigmaHQ sigmahq_regex_*; no lookaround or backreferences"),
    v("regex_escape", W, false, "a `|re` value escapes a letter SigmaHQ does not allow (only A b B d D f n r s S t v w W Z, digits and punctuation)", "SigmaHQ test_re_invalid_escapes"),
    v("double_wildcard", I, false, "a value contains `**`", "pySigma double_wildcard"),
    v("escaped_wildcard", I, false, "a value contains an escaped (literal) wildcard", "pySigma escaped_wildcard"),
    v("number_as_string", I, false, "a quoted string value is a plain integer", "pySigma number_as_string"),
    v("control_character", W, false, "a value contains a control character (often a `\\t` from a double-quoted YAML string)", "pySigma control_character"),
];

/// Look a validator up by id.
pub fn validator(id: &str) -> Option<&'static Validator> {
    VALIDATORS.iter().find(|v| v.id == id)
}

/// The closest validator id, for "did you mean" in configuration errors.
pub fn suggest(id: &str) -> Option<&'static str> {
    VALIDATORS
        .iter()
        .map(|v| (sigil_core::edit_distance(id, v.id), v.id))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, id)| id)
}
