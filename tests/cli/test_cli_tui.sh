#!/usr/bin/env bash
# nshm watch's full-screen view in a real terminal: tmux runs it in a pane,
# capture-pane shows what a user would see (the ring's row and its rate),
# and after q and after Ctrl-C the terminal is restored (normal screen,
# cursor shown, canonical mode and echo back on) and the status is 0; after
# Ctrl-Z the shell gets a normal terminal, and fg brings the view back.
nshm=$1
. "$(dirname "$0")/lib.sh"
if ! command -v tmux >/dev/null; then
	echo "tmux not installed (scripts/setup.sh installs it): skipped"
	exit 77
fi
n="nshmt-clit-$$"
sock="nshmt-tui-$$"
tmp=$(mktemp -d)
pids=()
tm() { tmux -L "$sock" "$@"; }
cleanup() {
	tm kill-server 2>/dev/null
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	wait 2>/dev/null
	"$nshm" rm "$n" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

"$nshm" create -k spsc -e 8 -c 1024 "$n" >/dev/null
"$nshm" sub "$n" >/dev/null &
pids+=($!)
"$nshm" pub --rate 1000 "$n" < <(yes 0102030405060708) &
pids+=($!)

# The pane runs a shell that runs watch, then reports how it left the tty.
cat >"$tmp/pane.sh" <<EOF
"$nshm" watch -i 0.2 "$n"
st=\$?
# One line, written at once: the test waits for its end marker.
echo "EXIT=\$st TTY=\$(stty -a | tr ' ;' '\n\n' | grep -xE -- '-?(icanon|echo)' | tr '\n' ' ')END"
sleep 30
EOF

# run_pane KEY: start watch in a fresh 120x20 pane, check the screen, press
# KEY, check the terminal was restored.
run_pane() {
	local key=$1 s=$2 screen row rate
	TERM=xterm-256color tm new-session -d -s "$s" -x 120 -y 20 \
		"bash --norc --noprofile $tmp/pane.sh"
	wait_for bash -c 'tmux -L "$1" capture-pane -p -t "$3" | grep -q "^$2 "' \
		_ "$sock" "$n" "$s"
	sleep 0.5 # a few refreshes with rates
	screen=$(tm capture-pane -p -t "$s")
	ok "$key: screen has the header" grep -qE "^RING +KIND +PUSH/s +POP/s" <<<"$screen"
	row=$(grep -E "^$n " <<<"$screen")
	ok "$key: screen shows the ring" [ -n "$row" ]
	# PUSH/s is the third column: 1000/s, printed as e.g. 998 or 1.00k.
	rate=$(awk '{ r = $3; if (r ~ /k$/) { sub(/k$/, "", r); r *= 1000 } print r }' <<<"$row")
	ok "$key: screen shows the rate (got '$rate')" \
		awk -v r="$rate" 'BEGIN { exit !(r >= 700 && r <= 1300) }'
	ok "$key: alternate screen while running" [ "$(tm display -p -t "$s" '#{alternate_on}')" = 1 ]
	tm send-keys -t "$s" "$key"
	wait_for bash -c 'tmux -L "$1" capture-pane -p -t "$2" | grep -q "^EXIT=.*END"' \
		_ "$sock" "$s"
	screen=$(tm capture-pane -p -t "$s")
	ok "$key: exit status 0" grep -q "^EXIT=0 " <<<"$screen"
	ok "$key: normal screen again" [ "$(tm display -p -t "$s" '#{alternate_on}')" = 0 ]
	ok "$key: cursor shown again" [ "$(tm display -p -t "$s" '#{cursor_flag}')" = 1 ]
	ok "$key: icanon and echo restored" grep -q "^EXIT=.* TTY=icanon echo END" <<<"$screen"
	[ "$fails" -eq 0 ] || echo "$screen" | sed 's/^/    screen: /'

}
run_pane q s1
run_pane C-c s2

# Ctrl-Z under a shell with job control (an interactive bash): while the
# job is stopped the shell has a normal screen and a visible cursor; fg
# brings the full screen and the ring back; q still exits 0.
TERM=xterm-256color tm new-session -d -s s3 -x 120 -y 20 \
	"env PS1='$ ' bash --norc --noprofile -i"
tm send-keys -t s3 "'$nshm' watch -i 0.2 '$n'" Enter
ok "C-z: running" wait_for bash -c \
	'tmux -L "$1" capture-pane -p -t s3 | grep -qE "^$2 +spsc +[0-9]"' _ "$sock" "$n"
tm send-keys -t s3 C-z
ok "C-z: the shell reports it stopped" wait_for bash -c \
	'tmux -L "$1" capture-pane -p -t s3 | grep -q Stopped' _ "$sock"
ok "C-z: normal screen while stopped" [ "$(tm display -p -t s3 '#{alternate_on}')" = 0 ]
ok "C-z: cursor shown while stopped" [ "$(tm display -p -t s3 '#{cursor_flag}')" = 1 ]
tm send-keys -t s3 fg Enter
ok "fg: full screen again" wait_for bash -c \
	'[ "$(tmux -L "$1" display -p -t s3 "#{alternate_on}")" = 1 ]' _ "$sock"
ok "fg: the ring is redrawn" wait_for bash -c \
	'tmux -L "$1" capture-pane -p -t s3 | grep -qE "^$2 +spsc +[0-9]"' _ "$sock" "$n"
tm send-keys -t s3 q
ok "after C-z, fg and q: normal screen" wait_for bash -c \
	'[ "$(tmux -L "$1" display -p -t s3 "#{alternate_on}")" = 0 ]' _ "$sock"
tm send-keys -t s3 'echo "EXIT=$?END"' Enter
ok "after C-z, fg and q: exit 0" wait_for bash -c \
	'tmux -L "$1" capture-pane -p -t s3 | grep -q "^EXIT=0END"' _ "$sock"
finish
