#!/usr/bin/env python3
"""Validates every policy file of the repository (or the files given) against schema/policy.schema.json:
examples/*.json, Cross/boot/policy.json (the boot test's), Cross/deb/policy.json (the package's) and the fuzz corpora's *.json copies. The
corpora's other seeds are deliberately broken inputs, and policies written inline by tests and
scripts are checked by the agent's own decoder.

Exit 0 when all are valid, 1 when one is not (each error printed with its JSON path)."""
import json
import pathlib
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("check-examples: python module jsonschema is missing (pip install jsonschema)")

top = pathlib.Path(__file__).resolve().parent.parent
schema = json.loads((top / "schema" / "policy.schema.json").read_text())
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
repository_policies = (sorted((top / "examples").glob("*.json")) + [top / "Cross" / "boot" / "policy.json", top / "Cross" / "deb" / "policy.json"]
                       + sorted((top / "Fuzz" / "corpus").glob("*/*.json")))
files = [pathlib.Path(a) for a in sys.argv[1:]] or repository_policies
bad = 0
for f in files:
    errors = list(validator.iter_errors(json.loads(f.read_text())))
    for e in errors:
        print(f"{f}: {'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}")
    bad += bool(errors)
    print(f"{'invalid' if errors else 'valid'}: {f.relative_to(top) if f.is_relative_to(top) else f}")
print(f"schema: {len(files) - bad} passed, {bad} failed")
sys.exit(1 if bad else 0)
