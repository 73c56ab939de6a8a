#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The man pages against the program they describe (TAP).
#
# - every long option in "popa3d --help" has an entry in popa3d(8), and
#   every option that may be set in a file has one in popa3d.conf(5);
# - every default the help shows in [brackets] is stated in that entry;
# - both pages format without a single groff warning;
# - the page's version is the program's;
# - the configuration examples (the shipped popa3d.conf.example and the
#   EXAMPLE section of popa3d.conf(5)) are accepted by the real parser, and
#   what popa3d.conf(5) says about errors and comments is what it does;
# - the shipped systemd units pass systemd-analyze verify, and the command
#   lines of the units and of inetd.conf are accepted by the parser;
#   popa3d.service runs the same command line with -t before a start and
#   before its reload's SIGHUP.
#
# The pages checked are the generated ones in the build tree (they carry
# this build's configure-time defaults, as does --help).
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
POPA3D=${POPA3D:-$top_builddir/src/popa3d}
man8=$top_builddir/doc/popa3d.8
man5=$top_builddir/doc/popa3d.conf.5

n=0
failed=0
ok() {	# ok COND-STATUS NAME [DETAIL]
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
		[ -n "${3:-}" ] && printf '%s\n' "$3" | sed -n '1,20s/^/#   /p'
	fi
}

if [ ! -x "$POPA3D" ] || [ ! -f "$man8" ] || [ ! -f "$man5" ]; then
	echo "1..0 # SKIP popa3d or the generated man pages are not built"
	exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/popa3d-manpage.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

help=$("$POPA3D" --help)
ok $? "popa3d --help exits 0"

# Long options, one per line; and "name<TAB>default" for help lines that
# document exactly one long option and end with a [default].
printf '%s\n' "$help" | grep -o -e '--[a-z][a-z-]*' | sed 's/^--//' | sort -u > "$tmp/opts"
printf '%s\n' "$help" | awk '
	{
		line = $0; k = 0; name = ""
		while (match(line, /--[a-z][a-z-]*/)) {
			k++; name = substr(line, RSTART + 2, RLENGTH - 2)
			line = substr(line, RSTART + RLENGTH)
		}
		if (k == 1 && match($0, /\[[^]]*\]$/))
			print name "\t" substr($0, RSTART + 1, RLENGTH - 2)
	}' > "$tmp/defaults"
count=$(wc -l < "$tmp/opts")
[ "$count" -ge 30 ]
ok $? "help lists $count long options (sanity: at least 30)"

# roff source to plain text: fonts, \- and \& away.
plain() {
	sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\&//g' -e 's/\\(dq/"/g' "$1"
}
plain "$man8" > "$tmp/man8"
plain "$man5" > "$tmp/man5"

# entry PAGE NAME: the text of the .TP entry whose tag names the option
# (popa3d.8: "--NAME" in the tag line; popa3d.conf.5: the tag starts
# ".B NAME"), up to the next .TP/.SS/.SH.
entry() {
	awk -v name="$2" -v conf="$3" '
		function tagmatch(s,    i, rest) {
			if (conf)
				return s ~ ("^\\.B " name "( |$)")
			while ((i = index(s, "--" name)) > 0) {
				rest = substr(s, i + 2 + length(name), 1)
				if (rest !~ /[a-z-]/)
					return 1
				s = substr(s, i + 2)
			}
			return 0
		}
		/^\.(TP|SS|SH)/ { if (inside) exit; tp = ($0 ~ /^\.TP/); next }
		tp && !inside { if (tagmatch($0)) inside = 1; else tp = 0 }
		inside { print }
	' "$1"
}
# one line of words: macro names, parentheses and quotes dropped
norm() { sed 's/^\.[A-Z]*//' | tr -d '()"' | tr '\n\t' '  '; }
# has_word WORD FILE: WORD occurs, not as part of a longer name or number
# ("15000" is not found in "150000").
has_word() {
	awk -v w="$1" '{
		s = $0
		while ((i = index(s, w)) > 0) {
			b = substr(s, i - 1, 1); a = substr(s, i + length(w), 1)
			if (i == 1) b = ""
			if (b !~ /[A-Za-z0-9]/ && a !~ /[A-Za-z0-9]/) { found = 1; exit }
			s = substr(s, i + 1)
		}
	} END { exit !found }' "$2"
}

missing8=
missing5=
nodefault=
while read -r opt; do
	entry "$tmp/man8" "$opt" "" > "$tmp/e8"
	[ -s "$tmp/e8" ] || missing8="$missing8 --$opt"
	case $opt in
	config|version|help|check-config|print-config) continue ;;
	esac
	entry "$tmp/man5" "$opt" 1 > "$tmp/e5"
	[ -s "$tmp/e5" ] || missing5="$missing5 $opt"
done < "$tmp/opts"
[ -z "$missing8" ]
ok $? "every long option of --help has an entry in popa3d.8" "missing:$missing8"
[ -z "$missing5" ]
ok $? "every file option of --help has an entry in popa3d.conf.5" "missing:$missing5"

# The option table itself (src/options.c), which may hold options the
# help text leaves out: every entry has its page entries too, and every
# --option the pages mention is in the table (nothing renamed or dropped;
# "--name" as in "--name=value", and configure's --with(out)-*, aside).
awk '/opt_table\[\] = \{/ { t = 1; next } t && /^\};/ { exit }
	t && match($0, /\{ "[a-z-]+", /) { n = substr($0, RSTART + 3, RLENGTH - 6)
		print n (($0 ~ /OPT_CMDLINE/) ? " cmdline" : "") }' \
	"$top_srcdir/src/options.c" > "$tmp/table"
missing=
while read -r opt cmdline; do
	entry "$tmp/man8" "$opt" "" | grep -q . || missing="$missing man8:--$opt"
	[ -n "$cmdline" ] && continue
	entry "$tmp/man5" "$opt" 1 | grep -q . || missing="$missing man5:$opt"
done < "$tmp/table"
[ "$(wc -l < "$tmp/table")" -ge 30 ] && [ -z "$missing" ]
ok $? "all $(wc -l < "$tmp/table") options of the table in src/options.c have page entries" \
	"missing:$missing"
cut -d' ' -f1 "$tmp/table" > "$tmp/names"
unknown=$(cat "$tmp/man8" "$tmp/man5" | grep -o -e '--[a-z][a-z-]*[a-z]' | sed 's/^--//' |
	sort -u | grep -v -x -F -f "$tmp/names" |
	grep -v -x -e name -e 'with-[a-z-]*' -e 'without-[a-z-]*')
[ -z "$unknown" ]
ok $? "every --option the pages name exists in the table" "unknown: $unknown"

ndef=0
while IFS="$(printf '\t')" read -r opt def; do
	ndef=$((ndef + 1))
	want=$(printf '%s' "$def" | norm)
	for page in man8 man5; do
		entry "$tmp/$page" "$opt" "$([ $page = man5 ] && echo 1)" | norm > "$tmp/e"
		grep -q -F -e "Default:" "$tmp/e" && has_word "$want" "$tmp/e" ||
			nodefault="$nodefault $page:$opt[$def]"
	done
done < "$tmp/defaults"
[ "$ndef" -ge 15 ] && [ -z "$nodefault" ]
ok $? "the $ndef defaults shown by --help are stated in both pages" "not stated:$nodefault"

# No leftover template variables.
! grep -n '@[A-Z_]*@' "$man8" "$man5" > "$tmp/left"
ok $? "no unsubstituted @VARIABLE@ in the generated pages" "$(cat "$tmp/left")"

version=$("$POPA3D" -V | sed -n 's/^popa3d //p')
grep -q "^\\.TH POPA3D 8 .*\"popa3d $version\"" "$man8" &&
	grep -q "^\\.TH POPA3D.CONF 5 .*\"popa3d $version\"" "$man5"
ok $? "both pages carry the program's version ($version)"

# groff: no warnings at all (-ww), for both pages.
if command -v groff > /dev/null 2>&1; then
	for page in "$man8" "$man5"; do
		out=$(groff -man -ww -z -Tutf8 "$page" 2>&1)
		[ -z "$out" ]
		ok $? "groff -man -ww: no warnings in $(basename "$page")" "$out"
	done
	# and man-db's own check, which also runs the preprocessors
	if command -v man > /dev/null 2>&1; then
		for page in "$man8" "$man5"; do
			out=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 > /dev/null)
			[ -z "$out" ]
			ok $? "man --warnings: nothing to say about $(basename "$page")" "$out"
		done
	fi
else
	echo "# groff not installed: formatting not checked"
fi

# The configuration examples must be accepted by the real parser (-V is
# handled after the file has been read, and needs no root; popa3d -t,
# which checks them against the system, is tests/e2e/test-config.py's).
out=$("$POPA3D" -c "$top_srcdir/doc/popa3d.conf.example" -V 2>&1)
ok $? "doc/popa3d.conf.example is accepted by popa3d -c" "$out"
awk '/^\.SH EXAMPLE/ { s = 1; next } s && /^\.EX/ { e = 1; next }
	e && /^\.EE/ { exit } e { print }' "$man5" | sed -e 's/\\-/-/g' > "$tmp/example.conf"
lines=$(grep -c -v -e '^#' -e '^$' "$tmp/example.conf")
out=$("$POPA3D" -c "$tmp/example.conf" -V 2>&1)
[ $? -eq 0 ] && [ "$lines" -ge 5 ]
ok $? "the EXAMPLE of popa3d.conf.5 ($lines settings) is accepted by popa3d -c" "$out"

# What popa3d.conf(5) promises about errors.
printf '# comment\n\n  timeout 600  \nmax-session 5\n' > "$tmp/bad.conf"
out=$("$POPA3D" -c "$tmp/bad.conf" -V 2>&1)
rc=$?
[ $rc -eq 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] &&
	printf '%s' "$out" | grep -q -F "$tmp/bad.conf:4: unknown option \"max-session\""
ok $? "unknown name: exit 1, one line naming file:line (as popa3d.conf.5 says)" "rc=$rc $out"
printf 'timeout 600 # ten minutes\n' > "$tmp/hash.conf"
out=$("$POPA3D" -c "$tmp/hash.conf" -V 2>&1)
[ $? -eq 1 ]
ok $? "a # after a value is part of the value, not a comment" "$out"
printf 'config /dev/null\n' > "$tmp/nest.conf"
out=$("$POPA3D" -c "$tmp/nest.conf" -V 2>&1)
[ $? -eq 1 ]
ok $? "config inside a file is refused" "$out"
printf 'log-stderr maybe\n' > "$tmp/flag.conf"
out=$("$POPA3D" -c "$tmp/flag.conf" -V 2>&1)
rc=$?
printf 'log-stderr no\nrequire-tls no\n' > "$tmp/flag2.conf"
"$POPA3D" -c "$tmp/flag2.conf" -V > /dev/null 2>&1
rc2=$?
[ $rc -eq 1 ] && [ $rc2 -eq 0 ]
ok $? "flags take yes/no and nothing else" "$out"

# The shipped service definitions: systemd's own checker, with ExecStart
# pointing at the built binary (verify wants it to exist), and the
# command lines they run accepted by the real option parser.
if command -v systemd-analyze > /dev/null 2>&1; then
	mkdir "$tmp/units"
	for u in popa3d.service popa3d.socket popa3d@.service; do
		sed "s|/usr/sbin/popa3d|$POPA3D|" "$top_srcdir/doc/systemd/$u" > "$tmp/units/$u"
	done
	out=$(cd "$tmp/units" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no \
		./popa3d.service ./popa3d.socket ./popa3d@.service 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [ -z "$out" ]
	ok $? "systemd-analyze verify: the three units are clean" "rc=$rc $out"
else
	echo "# systemd-analyze not installed: units not verified"
fi
bad=
for f in "$top_srcdir/doc/systemd/popa3d.service" "$top_srcdir/doc/systemd/popa3d@.service"; do
	args=$(sed -n 's|^ExecStart=/usr/sbin/popa3d *||p' "$f")
	# shellcheck disable=SC2086 # the unit's words, split as systemd does
	"$POPA3D" $args -V > /dev/null 2>&1 || bad="$bad $(basename "$f"):[$args]"
done
# popa3d.service checks with -t before a start and before a reload: the
# same options as ExecStart, or it would check another configuration.
f=$top_srcdir/doc/systemd/popa3d.service
start=$(sed -n 's|^ExecStart=/usr/sbin/popa3d *||p' "$f")
checks=$(sed -n -e 's|^ExecStartPre=/usr/sbin/popa3d \(.*\) -t$|\1|p' \
	-e 's|^ExecReload=/usr/sbin/popa3d \(.*\) -t$|\1|p' "$f")
[ "$(printf '%s\n' "$checks" | wc -l)" -eq 2 ] && ! printf '%s\n' "$checks" | grep -q -v -x -F -e "$start" &&
	grep -n -A1 '^ExecReload=/usr/sbin/popa3d' "$f" | grep -q 'ExecReload=/bin/kill -HUP'
ok $? "popa3d.service runs \"popa3d $start -t\" before a start and before its reload's SIGHUP" \
	"$checks"
args=$(awk '$1 == "pop3" { for (i = 8; i <= NF; i++) printf "%s ", $i }' "$top_srcdir/doc/inetd/inetd.conf")
# shellcheck disable=SC2086
"$POPA3D" $args -V > /dev/null 2>&1 || bad="$bad inetd.conf:[$args]"
[ -z "$bad" ]
ok $? "the command lines of the units and inetd.conf are accepted by popa3d" "$bad"

echo "1..$n"
[ "$failed" -eq 0 ]
