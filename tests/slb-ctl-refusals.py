#! /usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks that slb-ctl refuses each command of a table, cleanly.

    slb-ctl-refusals.py TABLE DATABASE [--record]

TABLE holds commands for slb-ctl, each as the words of a shell command
line (with "{ESC}", "{NL}", "{TAB}", "{BEL}" and "{DEL}" for those control
characters), each followed by a line "> MESSAGE": what slb-ctl must print.
Blank lines and lines that start with "#" are comments.

Each command runs against DATABASE (as $SLB_DB), which must not change.
slb-ctl must exit with a non-zero status, print nothing on its standard
output and exactly MESSAGE, one line without control characters, on its
standard error; the database dump afterwards must be the one before.
Prints one line per command that fails any of that, then a summary, and
exits with status 1 if any did.  With --record, prints the table again
with the messages that slb-ctl printed instead, to write a new table.
"""

import os
import shlex
import subprocess
import sys

ESCAPES = {"{ESC}": "\x1b", "{NL}": "\n", "{TAB}": "\t", "{BEL}": "\x07",
           "{DEL}": "\x7f"}


def words(line):
    """Returns the words of 'line' for slb-ctl's command line."""
    result = []
    for word in shlex.split(line):
        for name, char in ESCAPES.items():
            word = word.replace(name, char)
        result.append(word)
    return result


def read_table(path):
    """Returns the (line number, command, message) entries of 'path'."""
    entries = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith("> "):
                if not entries or entries[-1][2] is not None:
                    sys.exit("%s:%d: a message without a command"
                             % (path, number))
                entries[-1] = entries[-1][:2] + (line[2:],)
            else:
                entries.append((number, line, None))
    return entries


def dump(db):
    return subprocess.run(["ovsdb-client", "dump", db, "SLB"], check=True,
                          capture_output=True).stdout


def has_control(text):
    return any(ord(c) < 0x20 or ord(c) == 0x7f for c in text)


def main():
    if len(sys.argv) not in (3, 4) or sys.argv[3:] not in ([], ["--record"]):
        sys.exit(__doc__)
    path, db = sys.argv[1], sys.argv[2]
    record = len(sys.argv) == 4
    env = dict(os.environ, SLB_DB=db)

    entries = read_table(path)
    before = dump(db)
    failures = 0
    for number, command, expected in entries:
        run = subprocess.run(["slb-ctl"] + words(command), env=env,
                             capture_output=True)
        stderr = run.stderr.decode("utf-8", "backslashreplace")
        message = stderr[:-1] if stderr.endswith("\n") else stderr
        problems = []
        if run.returncode == 0:
            problems.append("exit status 0")
        if run.stdout:
            problems.append("output %r" % run.stdout)
        if not stderr.endswith("\n") or has_control(message):
            problems.append("not one clean line: %r" % stderr)
        after = dump(db)
        if after != before:
            problems.append("the database changed")
            before = after
        if record:
            print(command)
            print("> " + message)
        elif expected is None:
            problems.append("no message in the table")
        elif message != expected:
            problems.append("printed %r, not %r" % (message, expected))
        if problems:
            failures += 1
            print("%s:%d: %s: %s" % (path, number, command,
                                     "; ".join(problems)),
                  file=sys.stderr if record else sys.stdout)

    if not record:
        print("%d commands, %d refused as expected"
              % (len(entries), len(entries) - failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
