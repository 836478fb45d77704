#!/usr/bin/env bash
# Runs a check over every module of the workspace: build, vet, test (-race),
# in the workspace and with GOWORK=off, plus gofmt and go mod tidy checks.
#   scripts/each-module.sh [check|test|fast|tidy] [MODULE...]
#     test   everything (what CI runs)
#     fast   workspace only, no GOWORK=off pass
#     check  gofmt, vet, tidy, build; no tests
#     tidy   run go mod tidy in every module
# MODULE (a directory listed in go.work, e.g. transport/tcp) limits the
# run to those modules. Every step prints its wall time when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-test}
shift || true
mods=$(go work edit -json | sed -n 's/.*"DiskPath": "\.\/\(.*\)".*/\1/p')
if [ $# -gt 0 ]; then
	want=
	for m in "$@"; do
		m=${m#./}; m=${m%/}
		if ! printf '%s\n' $mods | grep -qx "$m"; then echo "$m is not a module of go.work"; exit 2; fi
		want="$want $m"
	done
	mods=$want
fi
fail=0
passed=0
failed=0
step() { # name, command...
	local name=$1; shift
	local t0=$SECONDS
	echo "== $name"
	runstep "$name" "$@"
	echo "-- $name: $((SECONDS - t0)) s"
}
runstep() { # name, command...
	local name=$1; shift
	if "$@"; then passed=$((passed + 1)); return; fi
	# A test run that fails is run once more, loudly: a failure that does
	# not come back is reported as flaky (and still needs fixing); one that
	# does fails the build.
	case "$name" in *test*)
		echo "!! $name failed; running it once more to tell a flaky test from a broken one"
		if "$@"; then echo "!! FLAKY: $name failed once, then passed"; flaky=$((flaky + 1)); passed=$((passed + 1)); return; fi ;;
	esac
	echo "!! FAILED: $name"; failed=$((failed + 1)); fail=1
}
flaky=0

if [ "$mode" = tidy ]; then
	for m in $mods; do (cd "$m" && GOWORK=off go mod tidy); done
	exit 0
fi

# Tests run with go test -json through tools/testlog, which prints every
# skipped test with its message, the whole output of every failure, a line
# per package and a count per step, and collects the skips in $skips for
# the list at the end.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export testlog="$tmp/testlog" skips="$tmp/skips"
: >"$skips"
if [ "$mode" != check ] && ! go build -C tools -o "$testlog" ./testlog; then
	echo "warning: tools/testlog did not build; test output is go test's own, skips are not listed"
	testlog=
fi
# A program built with -race sleeps a second before it exits, so that
# goroutines still running get a last chance to show a race. Every test
# binary sleeps so (about 120 of them a run), and every server process the
# tests start from one (tools/bench's suite starts some 60): minutes of
# waiting. Races are still reported the moment they happen and still fail
# the test binary (exit status 66), and almost every suite checks that
# nothing runs on when it ends (goleak). GORACE set by the caller comes
# after, so it wins.
export GORACE="atexit_sleep_ms=0${GORACE:+ $GORACE}"
gotest() { # [-q: leave out passing packages] go test arguments...
	local q=
	if [ "${1:-}" = -q ]; then q=-q; shift; fi
	if [ -z "$testlog" ]; then go test "$@"; return; fi
	set -o pipefail
	go test -json "$@" | "$testlog" $q -skips "$skips"
}
export -f gotest

# allocpkgs MODULE prints the module's packages with a test, example or
# fuzz target whose name holds "Alloc" (what -run Alloc selects).
allocpkgs() {
	(cd "$1" && go list -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r pkg dir; do
		if grep -qE '^func (Test|Example|Fuzz)[A-Za-z0-9_]*Alloc' "$dir"/*_test.go 2>/dev/null; then echo "$pkg"; fi
	done)
}

unformatted=$(gofmt -l $(git ls-files '*.go') 2>/dev/null || true)
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; fail=1; failed=$((failed + 1)); fi

for m in $mods; do
	step "$m: tidy" bash -c "cd '$m' && GOWORK=off go mod tidy -diff"
	step "$m: vet" bash -c "cd '$m' && go vet ./... && GOWORK=off go vet ./..."
	if [ "$mode" = check ]; then continue; fi
	step "$m: test -race" bash -c "cd '$m' && gotest -race -count=1 -timeout 20m ./..."
	# Allocation counts only mean something without -race (its sync.Pool
	# drops items on purpose), so those tests run once more without it, in
	# the packages that have any (building and linking every other test
	# binary once more without -race would run nothing).
	allocs=$(allocpkgs "$m" || true)
	if [ -n "$allocs" ]; then
		step "$m: test allocations (no -race)" bash -c "cd '$m' && gotest -q -count=1 -run Alloc -timeout 5m $allocs"
	fi
	# The same suites again on the goroutine engine, where connections are
	# served (on Linux the default is the epoll engine).
	case "$m" in transport/tcp | protocol/* | examples | daemon | cluster | metrics)
		if [ "$(uname -s)" = Linux ]; then
			step "$m: test -race (goroutine engine)" bash -c "cd '$m' && GOES_ENGINE=goroutine gotest -race -count=1 -timeout 20m ./..."
		fi ;;
	esac
	if [ "$mode" = test ]; then
		step "$m: test -race (GOWORK=off)" bash -c "cd '$m' && GOWORK=off gotest -race -count=1 -timeout 20m ./..."
	fi
done

if [ -s "$skips" ]; then
	echo
	echo "skipped tests ($(sort -u "$skips" | wc -l); one line per test and message, whichever steps skipped it):"
	sort -u "$skips" | sed 's/^/  /'
fi
echo
echo "flaky steps (failed once, then passed): $flaky"
echo "modules: $passed passed, $failed failed"
echo "wall time: $((SECONDS / 60)) min $((SECONDS % 60)) s"
exit $fail
