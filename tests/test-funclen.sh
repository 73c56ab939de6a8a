#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# No function in the daemon's C code (src/, auth/, mbox/) has a body of
# more than FUNCLEN_MAX lines: a function that long does several jobs, and
# a reviewer cannot hold it in one view.  Data tables (an initialiser such
# as the option table) may be longer only if they are in the allow-list
# below, each with the reason; a function can never be allowed (TAP).
#
# What is measured: every top-level brace block, found by counting braces
# outside comments, strings and character constants, in every branch of
# each #if, with preprocessor lines left out (the count of functions is
# checked against the lines that open one at column 0, so braces that
# only balance across #if branches would show).  Its length is the lines strictly between
# the opening and the closing brace.  A block whose header holds a '(' is
# a function, one whose header ends in '=' a table; struct, enum and union
# definitions are types and are not measured.
top_srcdir=${top_srcdir:-.}
cd "$top_srcdir" || exit 99
FUNCLEN_MAX=${FUNCLEN_MAX:-80}

# The allow-list: file:table, one a line, each with why it is one table.
# Data only: a function named here fails the test all the same.
#   src/options.c:opt_table -- every option's name, letter, kind, field,
#     range, default and help, the one place each is written (the
#     command line, the config file, --help and -T all read it).
ALLOW="src/options.c:opt_table"

n=0
failed=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}

measure() {
	awk '
	# Code of one line without comments, strings and character constants
	# (incomment carries a /* */ comment over lines).
	function code(s,   out, i, c, d, q) {
		out = ""
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1); d = substr(s, i, 2)
			if (incomment) {
				if (d == "*/") { incomment = 0; i++ }
				continue
			}
			if (d == "/*") { incomment = 1; i++; continue }
			if (d == "//") break
			if (c == "\"" || c == "\047") {
				q = c
				for (i++; i <= length(s); i++) {
					c = substr(s, i, 1)
					if (c == "\\") { i++; continue }
					if (c == q) break
				}
				out = out " "
				continue
			}
			out = out c
		}
		return out
	}
	function ident_before_paren(h,   m) {
		gsub(/__attribute__ *\(\([^)]*\)\)/, "", h)
		if (!match(h, /[A-Za-z_][A-Za-z0-9_]* *\(/))
			return "?"
		m = substr(h, RSTART, RLENGTH)
		sub(/ *\($/, "", m)
		return m
	}
	function table_name(h,   n, w) {
		sub(/ *(\[[^]]*\] *)*= *$/, "", h)
		n = split(h, w, /[^A-Za-z0-9_]+/)
		while (n > 0 && w[n] == "")
			n--
		return n ? w[n] : "?"
	}
	FNR == 1 { depth = 0; incomment = 0; hdr = ""; cont = 0 }
	{
		line = $0
		if (cont) { cont = (line ~ /\\$/); next }
		if (!incomment && line ~ /^[ \t]*#/) {
			cont = (line ~ /\\$/)
			next
		}
		s = code(line)
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1)
			if (c == "{") {
				if (depth == 0) {
					start = FNR
					if (hdr ~ /=[ \t]*$/) { kind = "table"; name = table_name(hdr) }
					else if (hdr ~ /\(/) { kind = "function"; name = ident_before_paren(hdr) }
					else kind = "type"
				}
				depth++
			} else if (c == "}") {
				depth--
				if (depth == 0) {
					len = FNR - start - 1
					if (len < 0)
						len = 0
					if (kind != "type")
						printf "%s:%s %s %d %d\n", FILENAME, name, kind, len, start
					hdr = ""
				}
			} else if (depth == 0) {
				hdr = (c == ";") ? "" : hdr c
			}
		}
		if (depth == 0)
			hdr = hdr " "
	}' "$@"
}

files=$(ls src/*.c src/lib/*.c auth/*.c mbox/*.c 2>/dev/null)
blocks=$(measure $files)
nfun=$(printf '%s\n' "$blocks" | awk '$2 == "function"' | wc -l)
# Sanity: the measure finds the functions at all (one "{" at column 0 each).
ncol0=$(cat $files | grep -c '^{')
[ "$nfun" -gt 100 ] && [ "$nfun" -eq "$ncol0" ]
ok $? "found $nfun function bodies in src/, auth/ and mbox/ ($ncol0 open at column 0)"

over=$(printf '%s\n' "$blocks" | awk -v max=$FUNCLEN_MAX '$3 > max')
nf=$(printf '%s\n' "$over" | awk '$2 == "function"' | grep -c .)
[ "$nf" -eq 0 ]
ok $? "no function body over $FUNCLEN_MAX lines ($nf)"
printf '%s\n' "$over" | awk '$2 == "function" { printf "#   %s: %d lines (line %d)\n", $1, $3, $4 }'

bad=0
for t in $(printf '%s\n' "$over" | awk '$2 == "table" { print $1 }'); do
	if ! printf '%s\n' $ALLOW | grep -qx "$t"; then
		echo "#   $t: a table of more than $FUNCLEN_MAX lines not in the allow-list"
		bad=$((bad + 1))
	fi
done
ok $bad "every table over $FUNCLEN_MAX lines is in the allow-list"

# An allow-list entry that no longer names a long table is stale.
stale=0
for t in $ALLOW; do
	printf '%s\n' "$over" | awk -v t="$t" '$1 == t && $2 == "table"' | grep -q . || {
		echo "#   allow-list entry $t names no table over $FUNCLEN_MAX lines"
		stale=$((stale + 1))
	}
done
ok $stale "the allow-list names only tables over $FUNCLEN_MAX lines"

longest=$(printf '%s\n' "$blocks" | awk '$2 == "function"' | sort -k3 -n -r | head -1)
echo "# longest function: $(printf '%s' "$longest" | awk '{ print $1 ", " $3 " lines" }')"
echo "1..$n"
exit $failed
