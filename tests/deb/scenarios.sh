#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The package scenarios, run by tests/deb/run.sh INSIDE a throwaway
# Debian 12 root (tests/deb/inroot.sh), never on the host.  /srv/t holds
# the new and the old (1.0.3-1.1) .deb, pop3check.py and, for the
# autopkgtest and the demo, a copy of the source tree (src).  One
# "ok"/"not ok" line per check; the host counts them.
#   scenarios.sh fresh | autopkgtest | upgrade-standalone | upgrade-inetd | demo
#
# run.sh runs fresh and the upgrades twice: in a plain chroot, where no
# init system runs (invoke-rc.d blocks, as it says) and the tests do by
# hand what it would do, with the package's init script (popa3d -D); and
# in a root booted by systemd-nspawn, where systemd is PID 1 and the
# maintainer scripts start, restart and stop popa3d.service themselves,
# and a real inetd runs popa3d through tcpd in inetd mode.  Only the
# plain chroot compares the whole file tree after a purge: a running
# system changes its own state files meanwhile.
set -u
T=/srv/t
NEW=$T/popa3d_2.0.0-1_amd64.deb
OLD=$T/popa3d_1.0.3-1.1_amd64.deb

ok() { # ok STATUS DESCRIPTION: one TAP line; returns STATUS
	if [ "$1" -eq 0 ]; then echo "ok - $2"; else echo "not ok - $2"; fi
	return "$1"
}
note() { echo "# $*"; }

# A checksum list of the whole tree: path, type, mode, owner, and content
# of regular files and links.  Kernel file systems, /tmp and the test's
# own files are never part of it; "pkg" also leaves out what dpkg and apt
# keep for themselves (logs, dpkg's database, apt's and debconf's caches'
# backups), which a package operation always changes.
snapshot() { # snapshot PREFIX all|pkg
	local prune=(-path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp
		-o -path /srv/t -o -path /root/.cache)
	[ "$2" = pkg ] && prune+=(-o -path /var/log -o -path /var/lib/dpkg -o -path /var/cache/apt
		-o -path /var/cache/debconf/config.dat-old -o -path /var/cache/debconf/templates.dat-old)
	find / -xdev \( "${prune[@]}" \) -prune -o -printf '%p %y %m %u %g %l\n' | sort >"$1.tree"
	find / -xdev \( "${prune[@]}" \) -prune -o -type f -print0 | xargs -0 sha256sum |
		sort -k2 >"$1.sums"
	for f in passwd group shadow gshadow; do
		grep -v '^popa3d:' /etc/$f >"$1.$f"
	done
}

# After a purge: nothing differs (the user "popa3d" and its group, left
# out of the snapshots, are checked by purged).
compare_purged() { # compare_purged BEFORE AFTER
	local diffs users='/etc/(passwd|group|shadow|gshadow|subuid|subgid)-?'
	diffs=$( { diff "$1.tree" "$2.tree" | awk '/^[<>]/ {print $2}'
		diff "$1.sums" "$2.sums" | awk '/^[<>]/ {print $3}'; } |
		sort -u | grep -v -x -E "$users")
	ok $([ -z "$diffs" ] && echo 0 || echo 1) "purge: the file tree is as before the install" ||
		{ note "differences:"; echo "$diffs" | sed 's/^/#   /'; }
	local f rc=0
	for f in passwd group shadow gshadow; do
		cmp -s "$1.$f" "$2.$f" || rc=1
	done
	ok $rc "purge: the user databases differ only in popa3d's entries"
}

mkuser() { # mkuser NAME PASSWORD NMESSAGES
	useradd --create-home --shell /usr/sbin/nologin "$1"
	printf '%s:%s\n' "$1" "$2" | chpasswd
	install -d -m 2775 -o root -g mail /var/mail
	local i
	for i in $(seq 1 "$3"); do
		printf 'From sender%s@example.org Thu Nov 19 10:00:%02d 2026\n' "$i" "$i"
		printf 'Received: from example.org by localhost; Thu, 19 Nov 2026 10:00:%02d +0000\n' "$i"
		printf 'From: sender%s@example.org\nTo: %s@localhost\nSubject: message %s\n\n' "$i" "$1" "$i"
		printf 'Body of message %s.\n>From here on.\n\n' "$i"
	done >"/var/mail/$1"
	chown "$1:mail" "/var/mail/$1"
	chmod 0660 "/var/mail/$1"
}

wait_port() { # wait until 127.0.0.1:PORT accepts (the daemon is up)
	local i
	for i in $(seq 1 100); do
		python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $1)))" && return 0
		sleep 0.1
	done
	return 1
}

systemd_pid1() { [ -d /run/systemd/system ]; }

listener_exe() { # the executable of the standalone listener
	local pid
	if systemd_pid1; then
		pid=$(systemctl show -P MainPID popa3d.service)
	else
		pid=$(awk '{print $1; exit}' /run/popa3d.pid 2>/dev/null)
	fi
	[ -n "$pid" ] && [ "$pid" != 0 ] && readlink "/proc/$pid/exe"
}

# by_hand ACTION: without an init system, do what the maintainer
# script's invoke-rc.d would have done; under systemd it has been done.
by_hand() {
	systemd_pid1 || /etc/init.d/popa3d "$1" >/dev/null
}

uidls() { # uidls standalone|inetd USER PASSWORD
	if [ "$1" = standalone ] || systemd_pid1; then
		python3 $T/pop3check.py 110 "$2" "$3"
	else
		python3 $T/pop3check.py --inetd "$2" "$3"
	fi
}

install_new() {
	dpkg -i "$NEW" >/tmp/dpkg-new.log 2>&1
	ok $? "dpkg -i popa3d 2.0.0-1" || sed 's/^/#   /' /tmp/dpkg-new.log
}

install_old() { # install_old true|false (debconf: standalone?)
	echo "popa3d popa3d/standalone boolean $1" | debconf-set-selections
	dpkg -i "$OLD" >/tmp/dpkg-old.log 2>&1
	ok $? "dpkg -i Debian's popa3d 1.0.3-1.1 (standalone=$1)" || sed 's/^/#   /' /tmp/dpkg-old.log
}

package_shape() {
	local u
	u=$(getent passwd popa3d)
	ok $? "the system user popa3d exists ($u)"
	[ "$(echo "$u" | cut -d: -f3)" -lt 1000 ]
	ok $? "popa3d is a system user (uid < 1000)"
	[ "$(stat -c '%U:%G %a' /var/lib/popa3d)" = "root:root 755" ]
	ok $? "the chroot /var/lib/popa3d is root:root 0755"
	dpkg-query -W -f='${Conffiles}\n' popa3d | grep -q '^ /etc/pam.d/popa3d '
	ok $? "/etc/pam.d/popa3d is a conffile"
	[ -f /lib/systemd/system/popa3d.service ] &&
		[ -L /etc/systemd/system/multi-user.target.wants/popa3d.service ]
	ok $? "popa3d.service installed and enabled (multi-user.target.wants)"
	[ -L /etc/rc2.d/S01popa3d ] || ls /etc/rc2.d/S*popa3d >/dev/null 2>&1
	ok $? "the init script is linked into runlevel 2"
	# systemd is installed here but not running: its parser checks the
	# unit with the Debian drop-in (Documentation= needs man, absent here).
	local v
	v=$(systemd-analyze verify popa3d.service 2>&1 | grep -v -E "Command 'man popa3d")
	ok $([ -z "$v" ] && echo 0 || echo 1) "systemd-analyze verify popa3d.service" ||
		echo "$v" | sed 's/^/#   /'
	systemd-analyze cat-config systemd/system/popa3d.service 2>/dev/null |
		grep -q '^ExecCondition=/usr/libexec/popa3d/standalone-enabled$'
	ok $? "popa3d.service has the Debian drop-in (ExecCondition on /etc/default/popa3d)"
}

fresh() {
	systemd_pid1 || snapshot /tmp/before pkg
	install_new
	package_shape
	by_hand start
	wait_port 110
	local up=$?
	if systemd_pid1; then
		ok $up "systemd: the postinst started popa3d.service, on port 110"
		[ "$(systemctl is-active popa3d.service)" = active ]
		ok $? "systemd: popa3d.service is active"
	else
		ok $up "the init script starts popa3d on port 110"
	fi
	[ "$(listener_exe)" = /usr/sbin/popa3d ]
	ok $? "the listener is /usr/sbin/popa3d"
	mkuser alice 'alice-Pa55' 2
	[ "$(uidls standalone alice 'alice-Pa55' | wc -l)" = 2 ]
	ok $? "fresh install: alice logs in through PAM (pam_unix) on port 110, 2 UIDLs"
	uidls standalone alice 'wrong' >/dev/null 2>&1
	ok $([ $? = 1 ] && echo 0 || echo 1) "a wrong password is refused"
	userdel -r alice 2>/dev/null
	by_hand stop
	dpkg --purge popa3d >/tmp/dpkg-purge.log 2>&1
	ok $? "dpkg --purge popa3d" || sed 's/^/#   /' /tmp/dpkg-purge.log
	purged
}

# After a purge: no process, no unit, and (without a running system to
# blur it) the whole tree as it was.
purged() {
	! pgrep -x popa3d >/dev/null
	ok $? "purge: no popa3d process left"
	[ ! -e /lib/systemd/system/popa3d.service ] &&
		[ ! -e /etc/systemd/system/multi-user.target.wants/popa3d.service ]
	ok $? "purge: the unit and its enablement are gone"
	! getent passwd popa3d >/dev/null && ! getent group popa3d >/dev/null
	ok $? "purge: the system user popa3d and its group are gone"
	if systemd_pid1; then
		[ "$(systemctl is-active popa3d.service)" != active ]
		ok $? "systemd: popa3d.service is not active"
	else
		snapshot /tmp/after pkg
		compare_purged /tmp/before /tmp/after
	fi
}

# autopkgtest's null runner: this root is the testbed, the package is
# installed ("apt-get update" fails here without a network, harmlessly).
# A scenario of its own: autopkgtest leaves its own state (apt lists,
# byte code) behind, which would blur the purge comparison of "fresh".
run_autopkgtest() {
	install_new
	autopkgtest --no-built-binaries $T/src "$NEW" -- null >/tmp/autopkgtest.log 2>&1
	ok $? "autopkgtest (null runner): debian/tests/pam-login passes" ||
		sed 's/^/#   /' /tmp/autopkgtest.log
	sed -n -e '/^[0-9]* passed/p' -e '/^pam-login  /p' /tmp/autopkgtest.log | sort -u | sed 's/^/#   /'
}

upgrade() { # upgrade standalone|inetd
	local mode=$1 standalone=true old_uidl new_uidl old_user old_group old_pam
	[ "$mode" = inetd ] && standalone=false
	systemd_pid1 || snapshot /tmp/before pkg
	install_old $standalone
	mkuser bob 'bob-Pa55' 3
	old_user=$(getent passwd popa3d)
	old_group=$(getent group popa3d)
	old_pam=$(grep -v -e '^#' -e '^$' /etc/pam.d/popa3d)
	if [ "$mode" = standalone ]; then
		by_hand start
		wait_port 110
		ok $? "1.0.3: its init script started popa3d -D on port 110"
	else
		grep -q -E '^pop3[[:space:]].*/usr/sbin/popa3d' /etc/inetd.conf
		ok $? "1.0.3: inetd.conf runs popa3d"
	fi
	old_uidl=$(uidls $mode bob 'bob-Pa55')
	[ "$(echo "$old_uidl" | wc -l)" = 3 ]
	ok $? "1.0.3 serves bob's 3 messages ($mode)"
	install_new
	if [ "$mode" = standalone ]; then
		by_hand restart
		wait_port 110
		ok $? "after the upgrade popa3d listens on port 110"
		[ "$(listener_exe)" = /usr/sbin/popa3d ]
		ok $? "the listener is the new /usr/sbin/popa3d, not 1.0.3's deleted binary"
		[ "$(pgrep -c -x popa3d)" = 1 ]
		ok $? "1.0.3's listener was stopped (one popa3d process)"
		if systemd_pid1; then
			[ "$(systemctl is-active popa3d.service)" = active ]
			ok $? "systemd: popa3d.service (the package's unit) is active"
		fi
	else
		grep -q -E '^pop3[[:space:]].*/usr/sbin/popa3d' /etc/inetd.conf
		ok $? "inetd mode kept: the inetd.conf line is enabled again"
		/usr/libexec/popa3d/standalone-enabled 2>/dev/null
		ok $([ $? = 1 ] && echo 0 || echo 1) "inetd mode kept: popa3d.service's ExecCondition says no"
		by_hand start
		! pgrep -x popa3d >/dev/null
		ok $? "inetd mode kept: no standalone listener started"
	fi
	new_uidl=$(uidls $mode bob 'bob-Pa55')
	[ -n "$new_uidl" ] && [ "$new_uidl" = "$old_uidl" ]
	ok $? "bob logs in with the same password and gets the same UIDLs"
	[ "$new_uidl" = "$old_uidl" ] || { note "1.0.3:" $old_uidl; note "2.0.0:" $new_uidl; }
	[ "$(getent passwd popa3d)" = "$old_user" ] && [ "$(getent group popa3d)" = "$old_group" ]
	ok $? "the same user and group popa3d ($old_user)"
	[ "$(grep -v -e '^#' -e '^$' /etc/pam.d/popa3d)" = "$old_pam" ]
	ok $? "/etc/pam.d/popa3d: the same PAM stack"
	[ "$(stat -c '%U:%G %a' /var/lib/popa3d)" = "root:root 755" ]
	ok $? "the chroot /var/lib/popa3d is root:root 0755"
	[ ! -e /etc/init.d/popa3d.dpkg-old ] && [ ! -e /etc/pam.d/popa3d.dpkg-old ]
	ok $? "no conffile question (unmodified conffiles replaced silently)"
	userdel -r bob 2>/dev/null
	by_hand stop
	dpkg --purge popa3d >/tmp/dpkg-purge.log 2>&1
	ok $? "dpkg --purge popa3d" || sed 's/^/#   /' /tmp/dpkg-purge.log
	if [ "$mode" = inetd ]; then
		! grep -q popa3d /etc/inetd.conf
		ok $? "purge: the inetd.conf line is gone"
	fi
	purged
}

demo() {
	install_old true
	mkuser bob 'bob-Pa55' 1
	/etc/init.d/popa3d start >/dev/null
	wait_port 110
	ok $? "1.0.3 installed and serving on port 110"
	local pid_before uidl_before
	pid_before=$(cat /run/popa3d.pid)
	uidl_before=$(python3 $T/pop3check.py 110 bob 'bob-Pa55')
	snapshot /tmp/before all
	cp /etc/passwd /etc/group /etc/shadow /etc/gshadow /etc/subuid /etc/subgid /tmp/
	"$T/src/doc/demo-setup.sh" >/tmp/demo.log 2>&1
	ok $? "doc/demo-setup.sh beside Debian's popa3d 1.0.3" || sed 's/^/#   /' /tmp/demo.log
	grep -E 'running|log|Try|curl' /tmp/demo.log | sed 's/^/#   /'
	local pw
	pw=$(cat /root/popa3d-demo-password 2>/dev/null)
	curl -s -u "popdemo:$pw" pop3://127.0.0.1:1110/1 | grep -q '^Subject: Demo message 1'
	ok $? "curl fetches demo message 1 from 127.0.0.1:1110"
	[ "$(python3 $T/pop3check.py 110 bob 'bob-Pa55')" = "$uidl_before" ]
	ok $? "1.0.3 still serves bob meanwhile"
	grep -q 'popdemo' /var/log/popa3d-demo.log
	ok $? "the demo server's log, /var/log/popa3d-demo.log, has the login"
	"$T/src/doc/demo-setup.sh" --remove >/tmp/demo-remove.log 2>&1
	ok $? "doc/demo-setup.sh --remove" || sed 's/^/#   /' /tmp/demo-remove.log
	snapshot /tmp/after all
	# useradd and userdel keep the previous passwd, group, shadow, gshadow,
	# subuid and subgid as FILE- (shadow's own backups); the files
	# themselves are compared exactly below.
	local rc=0 bak='^/etc/(passwd|group|shadow|gshadow|subuid|subgid)- '
	diff <(grep -v -E "$bak" /tmp/before.tree) <(grep -v -E "$bak" /tmp/after.tree) >/tmp/d1 || rc=1
	diff <(grep -v -E "  /etc/(passwd|group|shadow|gshadow|subuid|subgid)-\$" /tmp/before.sums) \
		<(grep -v -E "  /etc/(passwd|group|shadow|gshadow|subuid|subgid)-\$" /tmp/after.sums) >/tmp/d2 || rc=1
	ok $rc "demo round trip: every file, mode, owner and checksum as before" || sed 's/^/#   /' /tmp/d1 /tmp/d2
	rc=0
	for f in passwd group shadow gshadow subuid subgid; do cmp -s /tmp/$f /etc/$f || rc=1; done
	ok $rc "demo round trip: users and groups exactly as before"
	[ "$(cat /run/popa3d.pid)" = "$pid_before" ] && kill -0 "$pid_before" &&
		[ "$(python3 $T/pop3check.py 110 bob 'bob-Pa55')" = "$uidl_before" ]
	ok $? "1.0.3's daemon is the same process and serves the same UIDLs"
	dpkg-query -W -f='${Version} ${Status}\n' popa3d | grep -q '^1.0.3-1.1 install ok installed'
	ok $? "Debian's popa3d 1.0.3-1.1 still installed"
	# A name it would use, made by someone else: it refuses, makes nothing.
	useradd --no-create-home popdemo
	"$T/src/doc/demo-setup.sh" >/tmp/demo-refuse.log 2>&1
	ok $([ $? = 1 ] && grep -q 'not made by this demo' /tmp/demo-refuse.log && echo 0 || echo 1) \
		"the demo refuses to run over a user popdemo it did not make"
	[ ! -e /var/lib/popa3d-demo ] && [ ! -e /srv/t/src/build-demo ] && getent passwd popdemo >/dev/null
	ok $? "... and makes nothing, and leaves that user"
	userdel popdemo
}

case "${1:-}" in
fresh) fresh ;;
autopkgtest) run_autopkgtest ;;
upgrade-standalone) upgrade standalone ;;
upgrade-inetd) upgrade inetd ;;
demo) demo ;;
*) echo "usage: $0 fresh|autopkgtest|upgrade-standalone|upgrade-inetd|demo" >&2; exit 2 ;;
esac
echo "# end of scenario $1"
