#!/usr/bin/env bash
# Counts one domain's shards on a Slurm cluster: the same per-shard `tok count`
# and merge tree as scripts/spark/tok_spark.py count, as job arrays.
#
#   scripts/slurm/tok-count.sh submit DOMAIN OUTPUT SHARD...   # sbatch the four stages, chained with afterok
#   scripts/slurm/tok-count.sh local  DOMAIN OUTPUT SHARD...   # the same stages one after another, here
#
# Stages (each a job; arrays run a task per shard or per merge group):
#   1. scan   (array): `tok count --scan-held-out` per shard: sizes of the documents the hold-out hash picks
#   2. plan   (one task): `tok count --plan-held-out` over the scans: how many bytes the shards before each one hold out
#   3. count  (array): `tok count --hold-out` per shard, told what came before it
#   4. merge  (one task): `tok count --merge` in a tree of FAN_IN files a step, MERGE_JOBS at once
# Result: OUTPUT/DOMAIN.counts and OUTPUT/DOMAIN.heldout.txt (with SUPERWORDS=1, OUTPUT/DOMAIN.superwords.counts
# too), byte-identical to one `tok count --domain DOMAIN --hold-out 20 --held-out-capacity 4M SHARD...` (shards in
# sorted order). They appear only when the merge has succeeded; work files are in OUTPUT/.DOMAIN-work.
# OUTPUT and the shards must be on storage every node mounts; tok is the static
# build (swift build -c release --static-swift-stdlib), which needs only Debian's
# libicu72, libzstd1 and libstdc++6 on the nodes.
#
# Settings from the environment: TOK (default: .build/release/tok of this
# checkout, copied into OUTPUT/.DOMAIN-work), HOLD_OUT (thousandths, default 20;
# 0 for none), HELD_OUT_CAPACITY (most bytes held out, 4M as tok build), PATTERN
# (tok), SUPERWORDS (1: the superword counts too, `tok count --superwords`, for
# tok build --superwords; default 0), FAN_IN (16), MERGE_JOBS (8), ARRAY_LIMIT
# (concurrent array tasks, 1000), SBATCH_ARGS (extra sbatch options: partition,
# account, time, memory).
set -euo pipefail

mode=${1:?usage: tok-count.sh submit|local DOMAIN OUTPUT SHARD...}
here=$(cd "$(dirname "$0")" && pwd)
HOLD_OUT=${HOLD_OUT:-20}
HELD_OUT_CAPACITY=${HELD_OUT_CAPACITY:-4M}
PATTERN=${PATTERN:-tok}
FAN_IN=${FAN_IN:-16}
MERGE_JOBS=${MERGE_JOBS:-8}
SUPERWORDS=${SUPERWORDS:-0}

# One stage's work, run by a Slurm task (or the local loop): `task STAGE WORK INDEX`.
if [ "$mode" = task ]; then
    stage=$2 work=$3 k=${4:-${SLURM_ARRAY_TASK_ID:-0}}
    source "$work/settings"
    superwords=()
    [ "$SUPERWORDS" = 1 ] && superwords=(--superwords)
    shard=$(sed -n "$((k + 1))p" "$work/shards")
    case $stage in
    scan)
        "$work/tok" count --quiet --pattern "$PATTERN" --hold-out "$HOLD_OUT" --scan-held-out "$shard" > "$work/scan-$k.tmp"
        mv "$work/scan-$k.tmp" "$work/scan-$k.json" ;;
    plan)
        # One line a shard, in shard order: {"heldOutBefore":N,"scan":"..."}.
        scans=()
        for ((i = 0; i < $(wc -l < "$work/shards"); i++)); do scans+=("$work/scan-$i.json"); done
        "$work/tok" count --plan-held-out --held-out-capacity "$HELD_OUT_CAPACITY" "${scans[@]}" -o "$work/plan.jsonl" ;;
    count)
        hold=()
        if [ "$HOLD_OUT" != 0 ]; then
            before=$(sed -n "$((k + 1))s/^{\"heldOutBefore\":\([0-9]*\),.*/\1/p" "$work/plan.jsonl")
            hold=(--hold-out "$HOLD_OUT" --held-out-capacity "$HELD_OUT_CAPACITY" --held-out-before "${before:?no plan for shard $k}")
        fi
        "$work/tok" count --quiet --pattern "$PATTERN" --domain "$DOMAIN" "${hold[@]}" "${superwords[@]}" "$shard" -o "$work/0-$(printf %06d "$k").counts" ;;
    merge)
        level=0
        # Groups of FAN_IN files in shard order ("INDEX FILE..." a line), merged MERGE_JOBS at once.
        # Superword counts (NNN.superwords.counts) are merged with the counts they lie beside.
        export WORK=$work SUPERWORDS_FLAG=${superwords[*]:-}
        while [ "$(ls "$work" | grep -c "^$level-[0-9]*\.counts$")" -gt 1 ]; do
            export NEXT=$((level + 1))
            ls "$work" | grep "^$level-[0-9]*\.counts$" | sort | sed "s|^|$work/|" \
                | xargs -n "$FAN_IN" echo | nl -v0 -w1 -s' ' \
                | xargs -P "$MERGE_JOBS" -L1 sh -c 'i=$1; shift; exec "$WORK/tok" count --merge --quiet $SUPERWORDS_FLAG "$@" -o "$WORK/$NEXT-$(printf %06d "$i").counts"' merge
            level=$NEXT
        done
        final=$work/$(ls "$work" | grep "^$level-[0-9]*\.counts$")
        [ -f "${final%.counts}.heldout.txt" ] && mv "${final%.counts}.heldout.txt" "$OUTPUT/$DOMAIN.heldout.txt"
        [ "$SUPERWORDS" = 1 ] && mv "${final%.counts}.superwords.counts" "$OUTPUT/$DOMAIN.superwords.counts"
        mv "$final" "$OUTPUT/$DOMAIN.counts"
        echo "$OUTPUT/$DOMAIN.counts: $(wc -l < "$work/shards") shards, merge tree depth $level" ;;
    esac
    exit 0
fi

DOMAIN=${2:?domain}
OUTPUT=$(mkdir -p "${3:?output folder}" && cd "$3" && pwd)
shift 3
[ $# -gt 0 ] || { echo "tok-count.sh: no shards" >&2; exit 2; }
work="$OUTPUT/.$DOMAIN-work"
rm -rf "$work"
mkdir -p "$work"
for s in "$@"; do
    [ -r "$s" ] || { echo "tok-count.sh: $s: cannot read" >&2; exit 2; }
    readlink -f "$s"
done | sort > "$work/shards"
cp "${TOK:-$here/../../.build/release/tok}" "$work/tok"
printf 'DOMAIN=%q OUTPUT=%q PATTERN=%q HOLD_OUT=%q HELD_OUT_CAPACITY=%q FAN_IN=%q MERGE_JOBS=%q SUPERWORDS=%q\n' \
    "$DOMAIN" "$OUTPUT" "$PATTERN" "$HOLD_OUT" "$HELD_OUT_CAPACITY" "$FAN_IN" "$MERGE_JOBS" "$SUPERWORDS" > "$work/settings"
n=$(wc -l < "$work/shards")

if [ "$mode" = local ]; then
    trap 'rm -rf "$work"' EXIT
    if [ "$HOLD_OUT" != 0 ]; then
        for ((k = 0; k < n; k++)); do "$0" task scan "$work" "$k"; done
        "$0" task plan "$work"
    fi
    for ((k = 0; k < n; k++)); do "$0" task count "$work" "$k"; done
    "$0" task merge "$work"
    exit 0
fi

[ "$mode" = submit ] || { echo "tok-count.sh: mode is submit or local, not $mode" >&2; exit 2; }
array="--array=0-$((n - 1))%${ARRAY_LIMIT:-1000}"
# shellcheck disable=SC2086
submit() { sbatch --parsable --job-name="tok-$DOMAIN-$1" --output="$work/slurm-%x-%a.log" ${SBATCH_ARGS:-} "${@:2}"; }
after=()
if [ "$HOLD_OUT" != 0 ]; then
    scan=$(submit scan "$array" --wrap="'$0' task scan '$work'")
    plan=$(submit plan --dependency=afterok:$scan --wrap="'$0' task plan '$work'")
    after=(--dependency=afterok:$plan)
fi
count=$(submit count "$array" "${after[@]}" --wrap="'$0' task count '$work'")
merge=$(submit merge --cpus-per-task="$MERGE_JOBS" --dependency=afterok:$count --wrap="'$0' task merge '$work' && rm -rf '$work'")
echo "submitted: count $count, merge $merge ($n shards); a failed task stops the chain and leaves $work for its logs"
