#!/usr/bin/env python3
"""Writes the per-validator fixtures of `sigil-check`: testdata/check/<validator>/
trigger.yml (or trigger/ for checks across files) must raise the validator; clean.yml must
not. Each is the clean base rule below with a small edit, so a fixture shows one problem.
Re-run after editing: python3 testdata/check/generate.py
"""
from pathlib import Path

BASE = r"""title: Whoami Execution
id: 0b0ab8d4-6b5e-4b2e-9a3c-2f3d9d9c4e11
status: experimental
description: Detects the execution of whoami, which attackers use to learn who they are.
references:
    - https://example.com/whoami
author: Jane Doe
date: 2024-01-01
tags:
    - attack.discovery
    - attack.t1033
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\whoami.exe'
    condition: selection
falsepositives:
    - Administrators
level: medium
"""

SEL = "        Image|endswith: '\\whoami.exe'\n"


def r(old, new, text=None):
    text = BASE if text is None else text
    assert old in text, old
    return text.replace(old, new, 1)


def sel(lines, cond=None, base=None):
    t = r(SEL, lines, base)
    if cond:
        t = r("    condition: selection\n", f"    condition: {cond}\n", t)
    return t


def other(text, n):
    """Another rule: new id and title."""
    t = r("0b0ab8d4-6b5e-4b2e-9a3c-2f3d9d9c4e11", f"0b0ab8d4-6b5e-4b2e-9a3c-2f3d9d9c4e2{n}", text)
    return r("title: Whoami Execution", f"title: Whoami Execution {n}", t)


TAGS = "    - attack.discovery\n    - attack.t1033\n"
SYSMON = "    category: process_creation\n    product: windows\n"

F = {}  # id -> (trigger, clean); a dict value means several files
F["id_missing"] = (r("id: 0b0ab8d4-6b5e-4b2e-9a3c-2f3d9d9c4e11\n", ""), BASE)
F["id_duplicate"] = ({"first_rule.yml": BASE, "second_rule.yml": r("title: Whoami Execution", "title: Whoami Execution Again")},
                     {"first_rule.yml": BASE, "second_rule.yml": other(BASE, 2)})
F["id_case"] = (r("0b0ab8d4-6b5e-4b2e-9a3c-2f3d9d9c4e11", "0B0AB8D4-6B5E-4B2E-9A3C-2F3D9D9C4E11"), BASE)
F["id_not_v4"] = (r("0b0ab8d4-6b5e-4b2e-9a3c-2f3d9d9c4e11", "572b12d4-9062-11ed-a1eb-0242ac120002"), BASE)
F["title_duplicate"] = ({"first_rule.yml": BASE, "second_rule.yml": r("0b0ab8d4-6b5e-4b2e-9a3c-2f3d9d9c4e11", "0b0ab8d4-6b5e-4b2e-9a3c-2f3d9d9c4e99")},
                        {"first_rule.yml": BASE, "second_rule.yml": other(BASE, 2)})
F["title_length"] = (r("title: Whoami Execution", "title: Whoami Execution" + " By A Process That Is Not Expected To Run It On This Host" * 2), BASE)
F["title_style"] = (r("title: Whoami Execution", "title: Detect Whoami Execution."), BASE)
F["description_missing"] = (r("description: Detects the execution of whoami, which attackers use to learn who they are.\n", ""), BASE)
F["description_length"] = (r("Detects the execution of whoami, which attackers use to learn who they are.", "Whoami."), BASE)
F["author_missing"] = (r("author: Jane Doe\n", ""), BASE)
F["date_missing"] = (r("date: 2024-01-01\n", ""), BASE)
F["date_format"] = (r("date: 2024-01-01", "date: 2024/01/01"), BASE)
F["modified_before_date"] = (r("date: 2024-01-01\n", "date: 2024-01-01\nmodified: 2023-06-30\n"), r("date: 2024-01-01\n", "date: 2024-01-01\nmodified: 2024-06-30\n"))
F["modified_without_date"] = (r("date: 2024-01-01\n", "modified: 2024-01-01\n"), BASE)
F["modified_redundant"] = (r("date: 2024-01-01\n", "date: 2024-01-01\nmodified: 2024-01-01\n"), r("date: 2024-01-01\n", "date: 2024-01-01\nmodified: 2024-02-01\n"))
F["status_missing"] = (r("status: experimental\n", ""), BASE)
F["level_missing"] = (r("level: medium\n", ""), BASE)
F["enum_case"] = (r("level: medium", "level: Medium"), BASE)
F["references_duplicate"] = (r("    - https://example.com/whoami\n", "    - https://example.com/whoami\n    - https://example.com/whoami\n"), r("    - https://example.com/whoami\n", "    - https://example.com/whoami\n    - https://example.com/whoami2\n"))
F["reference_not_url"] = (r("    - https://example.com/whoami\n", "    - Internal research\n"), BASE)
F["reference_github_branch"] = (r("https://example.com/whoami", "https://github.com/SigmaHQ/sigma/blob/master/README.md"),
                                r("https://example.com/whoami", "https://github.com/SigmaHQ/sigma/blob/8eaafff1f2845a696050e05e72ba1140ee190698/README.md"))
F["reference_mitre"] = (r("https://example.com/whoami", "https://attack.mitre.org/techniques/T1033/"), BASE)
F["falsepositives_missing"] = (r("falsepositives:\n    - Administrators\n", ""), BASE)
F["falsepositives_banned"] = (r("    - Administrators\n", "    - None\n"), r("    - Administrators\n", "    - Unknown\n"))
F["falsepositives_capital"] = (r("    - Administrators\n", "    - administrators\n"), BASE)
F["custom_attribute_typo"] = (r("level: medium\n", "level: medium\nrealted:\n    - id: 0b0ab8d4-6b5e-4b2e-9a3c-2f3d9d9c4e12\n      type: similar\n"),
                              r("level: medium\n", "level: medium\nrelated:\n    - id: 0b0ab8d4-6b5e-4b2e-9a3c-2f3d9d9c4e12\n      type: similar\n"))
F["fields_deprecated"] = (r("level: medium\n", "level: medium\nfields:\n    - CommandLine\n"), BASE)
F["filename_length"] = ({"short.yml": BASE}, {"proc_creation_win_whoami.yml": BASE})
F["filename_convention"] = ({"Proc-Creation-Whoami.yaml": BASE}, {"proc_creation_win_whoami.yml": BASE})
F["filename_duplicate"] = ({"a/proc_creation_win_whoami.yml": BASE, "b/proc_creation_win_whoami.yml": other(BASE, 2)},
                           {"a/proc_creation_win_whoami.yml": BASE, "b/proc_creation_win_whoami_2.yml": other(BASE, 2)})
F["tag_case"] = (r(TAGS, "    - attack.discovery\n    - attack.T1033\n"), BASE)
F["tag_format"] = (r(TAGS, TAGS + "    - attack.t1033!\n"), BASE)
F["tag_namespace"] = (r(TAGS, TAGS + "    - atack.t1033\n"), BASE)
F["tag_duplicate"] = (r(TAGS, TAGS + "    - attack.t1033\n"), BASE)
F["attack_unknown"] = (r(TAGS, TAGS + "    - attack.t9999\n    - attack.discvery\n"), r(TAGS, TAGS + "    - attack.t1033\n"[:0] + "    - attack.g0016\n    - attack.s0002\n"))
F["attack_deprecated"] = (r(TAGS, TAGS + "    - attack.defense-evasion\n"), r(TAGS, TAGS + "    - attack.stealth\n"))
F["attack_tactic_missing"] = (r(TAGS, "    - attack.t1033\n"), BASE)
F["cve_format"] = (r(TAGS, TAGS + "    - cve.2021.44228\n"), r(TAGS, TAGS + "    - cve.2021-44228\n"))
F["car_format"] = (r(TAGS, TAGS + "    - car.2016-4-5\n"), r(TAGS, TAGS + "    - car.2016-04-005\n"))
F["detection_tag"] = (r(TAGS, TAGS + "    - detection.hunting\n"), r(TAGS, TAGS + "    - detection.threat-hunting\n"))
F["stp_format"] = (r(TAGS, TAGS + "    - stp.6\n"), r(TAGS, TAGS + "    - stp.3k\n"))
F["tlp_value"] = (r(TAGS, TAGS + "    - tlp.blue\n"), r(TAGS, TAGS + "    - tlp.amber-strict\n"))
F["d3fend_format"] = (r(TAGS, TAGS + "    - d3fend.foo\n"), r(TAGS, TAGS + "    - d3fend.d3-pa\n    - d3fend.d3f-WindowsRegistryKey\n"))
F["tag_namespace_unique"] = (r(TAGS, TAGS + "    - detection.dfir\n    - detection.threat-hunting\n"), r(TAGS, TAGS + "    - detection.dfir\n"))
F["logsource_missing_product"] = (r(SYSMON, "    category: process_creation\n"), r(SYSMON, "    category: proxy\n", sel("        c-uri|contains: '/whoami'\n")))
F["logsource_unknown"] = (r("    product: windows\n", "    product: windos\n"), BASE)
F["logsource_custom_key"] = (r("    product: windows\n", "    product: windows\n    version: '2'\n"), r("    product: windows\n", "    product: windows\n    definition: 'Requirements: Sysmon'\n"))
F["logsource_case"] = (r("    category: process_creation\n", "    category: Process_Creation\n"), BASE)
SYS = "    product: windows\n    service: sysmon\n"
F["specific_logsource"] = (r(SYSMON, SYS, sel("        EventID: 1\n" + SEL)), r(SYSMON, "    product: windows\n    service: security\n", sel("        EventID: 4625\n")))
F["sysmon_missing_eventid"] = (r(SYSMON, SYS, sel("        State: Stopped\n")), r(SYSMON, SYS, sel("        EventID: 16\n        State: Stopped\n")))
F["category_eventid"] = (sel("        EventID: 4688\n" + SEL), BASE)
F["field_unknown"] = (sel("        Imagee|endswith: '\\whoami.exe'\n"), BASE)
F["field_space"] = (sel("        Image Path|endswith: '\\whoami.exe'\n"), BASE)
F["all_single_value"] = (sel(SEL + "        CommandLine|contains|all: '/all'\n"), sel(SEL + "        CommandLine|contains|all:\n            - '/all'\n            - '/fo'\n"))
F["base64offset_without_contains"] = (sel("        CommandLine|base64offset: 'whoami'\n"), sel("        CommandLine|base64offset|contains: 'whoami'\n"))
F["wildcards_instead_of_modifiers"] = (sel("        Image: '*\\whoami.exe'\n"), sel("        Image: 'C:\\Windows\\*\\whoami.exe'\n"))
F["value_duplicate"] = (sel("        CommandLine|contains:\n            - '/all'\n            - '/ALL'\n"), sel("        CommandLine|base64|contains:\n            - '/all'\n            - '/ALL'\n"))
F["single_element_list"] = (sel("        Image|endswith:\n            - '\\whoami.exe'\n"), BASE)
F["search_unused"] = (sel(SEL + "    filter:\n        User: SYSTEM\n"), sel(SEL + "    filter:\n        User: SYSTEM\n", "selection and not filter"))
F["condition_constant"] = (sel(SEL, "selection and not selection"), BASE)
F["all_of_them"] = (sel(SEL + "    selection_cli:\n        CommandLine|contains: '/all'\n", "all of them"), sel(SEL + "    selection_cli:\n        CommandLine|contains: '/all'\n", "all of selection*"))
F["of_single_search"] = (sel(SEL, "1 of selection*"), sel(SEL + "    selection_cli:\n        CommandLine|contains: '/all'\n", "1 of selection*"))
F["of_without_wildcard"] = (sel(SEL, "1 of selection"), BASE)
F["regex_invalid"] = (sel("        CommandLine|re: '(?<=who)ami'\n"), sel("        CommandLine|re: 'who(ami)?'\n"))
F["regex_escape"] = (sel("        CommandLine|re: '\\x77hoami'\n"), sel("        CommandLine|re: '\\bwhoami\\.exe\\s'\n"))
F["double_wildcard"] = (sel("        CommandLine: '*who**ami*'\n"), sel("        CommandLine: '*who*ami*'\n"))
F["escaped_wildcard"] = (sel(SEL + "        CommandLine|contains: 'who\\*'\n"), sel(SEL + "        CommandLine|contains: 'who\\ami'\n"))
F["number_as_string"] = (sel(SEL + "        ProcessId: '1234'\n"), sel(SEL + "        ProcessId: 1234\n"))
F["control_character"] = (sel(SEL + "        CommandLine|contains: \"who\\tami\"\n"), sel(SEL + "        CommandLine|contains: 'who\\tami'\n"))

root = Path(__file__).resolve().parent
for vid, (trigger, clean) in F.items():
    d = root / vid
    for kind, content in (("trigger", trigger), ("clean", clean)):
        if isinstance(content, dict):
            for name, text in content.items():
                p = d / kind / name
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(text)
        else:
            d.mkdir(parents=True, exist_ok=True)
            (d / f"{kind}.yml").write_text(content)
print(len(F), "validators")
