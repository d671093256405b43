#!/usr/bin/env bash
# Peak memory (GNU time, max RSS) and wall time of `netprophet train` in
# memory and with --out-of-core, on the shared real RTT traces (1x) and on
# 10x of them. The 10x set is GENERATED: every real trace is used again
# under 10 new probe ids (links named <id><k>.csv), so it has the volume
# of 350 probes but only the information of 35.
#
#   benches/out_of_core.sh                 # the table of the README
#   CASES=quick benches/out_of_core.sh     # 1x only
#
# Needs a release build (cargo build --release) and GNU time.
set -euo pipefail
NP=${NP:-target/release/netprophet}
TRACES=${TRACES:-../shared/data/rtt-traces/probes}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$WORK/x10"
for f in "$TRACES"/*.csv; do
    id=$(basename "$f" .csv)
    for k in 0 1 2 3 4 5 6 7 8 9; do
        ln -s "$(realpath "$f")" "$WORK/x10/${id}${k}.csv"
    done
done
"$NP" features --input "$TRACES"/*.csv --all --labels --output "$WORK/x1.parquet" >/dev/null 2>&1
"$NP" features --input "$WORK"/x10/*.csv --all --labels --output "$WORK/x10.parquet" >/dev/null 2>&1

measure() {
    local label=$1
    shift
    local out
    out=$( { /usr/bin/time -f "%e %M" "$NP" train "$@" --out "$WORK/model.json" >/dev/null 2>"$WORK/err"; } 2>&1 || true)
    local last
    last=$(tail -1 "$WORK/err")
    read -r secs kb <<<"$last"
    printf '| %s | %s s | %d MB |\n' "$label" "$secs" $((kb / 1024))
}

RECIPE=(--feature-set relative+recent+daily+level --target sustained --no-smote --calibrate)
echo "| run | wall | peak RSS |"
echo "|---|---|---|"
for x in x1 x10; do
    if [ "${CASES:-all}" = quick ] && [ $x = x10 ]; then break; fi
    t="$WORK/$x.parquet"
    measure "$x base, SMOTE, in memory" --input "$t"
    measure "$x base, --no-smote, in memory" --input "$t" --no-smote
    measure "$x base, --no-smote --out-of-core" --input "$t" --no-smote --out-of-core
    measure "$x recommended recipe, in memory" --input "$t" "${RECIPE[@]}"
    measure "$x recommended recipe, --out-of-core" --input "$t" "${RECIPE[@]}" --out-of-core
    measure "$x recommended recipe --negatives 0.25, --out-of-core" --input "$t" "${RECIPE[@]}" --negatives 0.25 --out-of-core
done
