# Shared by the nshm command's shell tests: source it after setting $nshm.
# check DESCRIPTION EXPECTED_RC PATTERN -- command...: run, compare the exit
# status and grep the combined output (ERE) for PATTERN.
set -uo pipefail
fails=0 passes=0
check() {
	local what=$1 want=$2 pat=$3
	shift 4
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -qE -- "$pat" <<<"$out"; then
		passes=$((passes + 1))
	else
		fails=$((fails + 1))
		echo "FAIL: $what: rc=$rc (want $want), output:"
		echo "$out" | sed 's/^/    /'
	fi
}
# ok DESCRIPTION COMMAND...: the command (a test) must succeed.
ok() {
	local what=$1
	shift
	if "$@"; then
		passes=$((passes + 1))
	else
		fails=$((fails + 1))
		echo "FAIL: $what"
	fi
}
# json DESCRIPTION COMMAND...: the command succeeds and prints valid JSON.
json() {
	local what=$1
	shift
	if "$@" | python3 -m json.tool >/dev/null; then
		passes=$((passes + 1))
	else
		fails=$((fails + 1))
		echo "FAIL: $what: not JSON or failed"
	fi
}
# Wait (up to 5 s) until COMMAND... succeeds.
wait_for() {
	for _ in $(seq 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}
finish() {
	echo "$(basename "$0" .sh): $passes passed, $fails failed"
	[ "$fails" -eq 0 ]
}
