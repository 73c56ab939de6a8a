#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Every C file of the daemon says, in the first line of its first comment
# (right after the SPDX line), which processes run it: "Runs in: the
# listener, the leader (root)."  The names must be those of the process
# table in doc/DESIGN.md, so that a reader can go from a file to what its
# process holds and what an attacker who owns it gets (TAP).
top_srcdir=${top_srcdir:-.}
cd "$top_srcdir" || exit 99
n=0
failed=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}
# The table's first column, between its markers; "every process" too.
names=$(sed -n '/<!-- process-table: begin -->/,/<!-- process-table: end -->/p' doc/DESIGN.md |
	sed -n 's/^| *\([a-zA-Z][a-zA-Z -]*[a-z]\) *|.*/\1/p' | grep -v '^process$')
[ "$(printf '%s\n' "$names" | grep -c .)" -ge 5 ]
ok $? "doc/DESIGN.md has a process table ($(printf '%s' "$names" | tr '\n' ',' | sed 's/,/, /g'))"
for f in src/*.c src/lib/*.c auth/*.c mbox/*.c; do
	[ -f "$f" ] || continue
	# Line 2 is "/*" and line 3 " * Runs in: ...", or line 2 is "/* Runs
	# in: ... */"; the sentence may go on over the next lines, up to the
	# first line that ends it with a full stop.
	line=$(sed -n '2,12p' "$f" | awk '
		!on && NR <= 2 && /^(\/\*| \*) Runs in: / { on = 1; sub(/^(\/\*| \*) Runs in: /, "") }
		on { sub(/^ \* /, ""); sub(/ *\*\/$/, ""); s = s (s == "" ? "" : " ") $0 }
		on && /\.$/ { print s; exit }')
	if [ -z "$line" ]; then
		ok 1 "$f: first comment line names its processes (\"Runs in: ...\")"
		continue
	fi
	# Drop what is in parentheses and the final stop, then split on
	# ", " and " and ": every item must be a process of the table.
	bad=$(printf '%s\n' "$line" | sed -e 's/ *\*\/$//' -e 's/([^)]*)//g' -e 's/\. *$//' \
		-e 's/, and /, /g' -e 's/ and /, /g' | tr ',' '\n' |
		sed -e 's/^ *//' -e 's/ *$//' -e 's/^the //' |
		while read -r item; do
			[ "$item" = "every process" ] && continue
			printf '%s\n' "$names" | grep -qx "$item" || echo "$item"
		done)
	[ -z "$bad" ]
	ok $? "$f: runs in $(printf '%s' "$line" | sed -e 's/ *\*\/$//' -e 's/\.$//')"
	[ -z "$bad" ] || printf '%s\n' "$bad" | sed 's/^/#   not in the process table: /'
done
echo "1..$n"
exit $failed
