#!/usr/bin/env bash
# The CWL v1.2 conformance suite against `wades cwl-runner`.
#
#   tests/cwl/conformance.sh            # the `required` tests; fails below tests/cwl/required.floor
#   tests/cwl/conformance.sh --all      # all 378 tests; fails below tests/cwl/all.floor
#   tests/cwl/conformance.sh -- -s cl_basic_generation   # extra cwltest arguments after --
#
# Environment: SKIP_BUILD=1 uses the existing target/release/wades; JOBS (default 2)
# and TIMEOUT (default 60 s) tune cwltest.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
suite="$root/../shared/cwl-v1.2/conformance_tests.yaml"
venv="$root/target/cwltest-venv"
cwltest_version=2.7.20260814150058

tags=(--tags required)
mode=required
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --all) tags=(); mode=all ;;
        --) shift; extra=("$@"); break ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

[ -f "$suite" ] || { echo "conformance suite not found at $suite" >&2; exit 2; }

if [ ! -x "$venv/bin/cwltest" ] || ! "$venv/bin/cwltest" --version 2>/dev/null | grep -q "$cwltest_version"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "cwltest==$cwltest_version"
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$root" && cargo build --release -p wades --quiet)
fi

report="$root/target/cwltest-$mode.xml"
log="$root/target/cwltest-$mode.log"
start=$(date +%s)
set +e
(cd "$root" && "$venv/bin/cwltest" --test "$suite" --tool "$here/wades-cwl-runner" \
    "${tags[@]}" -j "${JOBS:-2}" --timeout "${TIMEOUT:-60}" --junit-xml "$report" "${extra[@]}") \
    >"$log" 2>&1
set -e
elapsed=$(( $(date +%s) - start ))

# Counts from cwltest's summary line (its JUnit report does not mark every
# failure, e.g. a should_fail test that succeeded); the total from the report.
total=$(grep -c "<testcase" "$report" || true)
summary=$(grep -E "tests passed|All tests passed" "$log" | tail -1)
if echo "$summary" | grep -q "All tests passed"; then
    passed=$total; failed=0; unsupported=0
else
    passed=$(echo "$summary" | sed -nE 's/^(.*[^0-9])?([0-9]+) tests passed.*/\2/p')
    failed=$(echo "$summary" | sed -nE 's/^(.*[^0-9])?([0-9]+) failures.*/\2/p')
    unsupported=$(echo "$summary" | sed -nE 's/^(.*[^0-9])?([0-9]+) unsupported features.*/\2/p')
fi
passed=${passed:-0}; failed=${failed:-0}; unsupported=${unsupported:-0}
echo "cwl conformance ($mode): $passed passed, $failed failed, $unsupported unsupported of $total in ${elapsed}s"
echo "  log: $log"
grep -E "^Test [0-9]+ failed|returned non-zero|unsupported feature" "$log" | head -100 || true

floor_file="$here/$mode.floor"
floor=$(tr -dc '0-9' <"$floor_file")
if [ "$passed" -lt "$floor" ]; then
    echo "FAIL: $passed $mode tests pass, below the floor of $floor ($floor_file)" >&2
    exit 1
fi
echo "ok: at or above the floor of $floor"
