#!/usr/bin/env python3
"""Copy userdata/node-bootstrap.sh into the user data of templates/rmq-node.yaml, and pin the
SHA-256 of userdata/node-secrets.sh (the rmq-node-secrets artefact) there.

A developer tool (the templates are hand-maintained; nothing runs this at deploy time):
edit the script, run `python3 cloudformation/tests/sync_userdata.py`, commit both files.
tests/test_templates.py fails when the two differ.
"""
import hashlib
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "userdata" / "node-bootstrap.sh"
SECRETS_SCRIPT = ROOT / "userdata" / "node-secrets.sh"
TEMPLATE = ROOT / "templates" / "rmq-node.yaml"
MARKER = "# node-bootstrap.sh, verbatim (tests/sync_userdata.py copies it here)"


def locate(lines):
    """Return (first, end, indent) of the script's block scalar lines in the template."""
    marks = [i for i, line in enumerate(lines) if line.strip() == MARKER]
    if len(marks) != 1:
        sys.exit(f"{TEMPLATE}: expected one line '{MARKER}', found {len(marks)}")
    head = lines[marks[0] + 1]
    if head.strip() != "- |":
        sys.exit(f"{TEMPLATE}: the line after the marker must be '- |'")
    indent = len(head) - len(head.lstrip()) + 2
    first = end = marks[0] + 2
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith(" " * indent)):
        end += 1
    while end > first and not lines[end - 1].strip():
        end -= 1
    return first, end, indent


def main():
    lines = TEMPLATE.read_text().split("\n")
    first, end, indent = locate(lines)
    body = [(" " * indent + l) if l else "" for l in SCRIPT.read_text().rstrip("\n").split("\n")]
    lines[first:end] = body
    text, pins = re.subn(r"(ScriptSha256: ')[0-9a-f]{64}(')",
                         rf"\g<1>{secrets_sha256()}\g<2>", "\n".join(lines))
    if pins != 1:
        sys.exit(f"{TEMPLATE}: expected one ScriptSha256: '<64 hex>', found {pins}")
    TEMPLATE.write_text(text)
    print(f"copied {SCRIPT.name} ({len(body)} lines) into {TEMPLATE.name}, "
          f"pinned {SECRETS_SCRIPT.name} {secrets_sha256()}")


def secrets_sha256():
    """The SHA-256 the node template pins for the rmq-node-secrets artefact."""
    return hashlib.sha256(SECRETS_SCRIPT.read_bytes()).hexdigest()


if __name__ == "__main__":
    main()
