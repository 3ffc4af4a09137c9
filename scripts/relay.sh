#!/usr/bin/env bash
# The relay: one training run of the default model over many sittings (issue 10, trainer/RECIPES.md).
#
#   bash scripts/relay.sh start [SECONDS]   first minutes of a sitting: data if missing, then resume the run in
#                                           the background (log: work/relay/train.log); SECONDS is its budget
#   bash scripts/relay.sh status            last log lines and face-gain validations
#   bash scripts/relay.sh stop              ~20 minutes before the sitting ends: SIGTERM (the run checkpoints)
#   bash scripts/relay.sh finish            bundle -> models/face0-64, then the compact state -> relay/face0-cpu (committed):
#                                           since sitting 22 it names that bundle instead of holding weights (~24 KB;
#                                           FACE0_STATE_WEIGHTS=1: the EMA itself, int8, xz, ~4.4 MB)
#                                           (FACE0_FACE_START=F: the bundle's default face start;
#                                            FACE0_FACE_START_RANDOM=F: random identities' own;
#                                            FACE0_GUIDANCE_RESCALE=F: the bundle's guidance rescale)
#
# The run folder work/relay (full checkpoint, ignored) continues exactly on the same machine; on a fresh
# machine the run resumes from the committed compact state relay/face0-cpu (trainer/face0_trainer/relay.py).
# Two ranks of one thread each (DDP over gloo): on two cores that trains ~2.4x faster than one process with
# two threads (RECIPES.md). Run everything else under `nice -n 19` while it trains.
# A cooldown branch (a bundle to ship), branched from the relay's checkpoint (copy work/relay/{ckpt.pt,
# metrics.jsonl,config.json,tokenizer.json} into its folder first):
#   FACE0_RELAY_RUN=work/cooldown FACE0_RELAY_SET="train.cooldown_from=STEP train.cooldown_steps=N" \
#     FACE0_RELAY_STEPS=STEP+N bash scripts/relay.sh start SECONDS   (it stops at that step)
# Since sitting 22 the committed state names the shipped bundle, so the relay goes on from what ships: if the
# branch's bundle ships (trainer/RECIPES.md's rule), FACE0_RELAY_RUN=work/cooldown bash scripts/relay.sh finish
# (the state it writes goes on at the constant lr: its cooldown is cleared); if not, nothing is committed and
# the next sitting starts again from the default's bundle.
# A checkpoint becomes the relay state with its cooldown cleared:
#   (cd trainer && python3 -m face0_trainer save-state --ckpt CKPT --bundle ../models/face0-64 --out ../relay/face0-cpu --reset-cooldown --xz)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# the relay's data since sitting 16: captions that always name the salient attributes (RECIPES.md, sitting 16);
# the same crops, embeddings and held-out people as `augment`'s default captions in work/data64
DATA=$(realpath -m "${FACE0_RELAY_DATA:-$ROOT/work/data64s}")   # absolute: the run starts in trainer/
RUN=$(realpath -m "${FACE0_RELAY_RUN:-$ROOT/work/relay}")
STATE=$(realpath -m "${FACE0_RELAY_STATE:-$ROOT/relay/face0-cpu}")
BUNDLE=$(realpath -m "${FACE0_RELAY_BUNDLE:-$ROOT/models/face0-64}")
PY=${FACE0_PYTHON:-/usr/bin/python3}
RANKS=${FACE0_RELAY_RANKS:-2}
CONFIG=cpu
BATCH=32          # a rank: the cpu config's batch (a GPU segment of the run uses its own)
STAGE=joint

# the committed learning curve, in order: metrics.jsonl.gz, then one part per later state (summary.py curve_parts)
committed_curve() {
  local f
  [ -f "$STATE/metrics.jsonl.gz" ] || return 0
  gzip -dc "$STATE/metrics.jsonl.gz"
  for f in $(ls "$STATE" | grep -E '^metrics-[0-9]+\.jsonl\.gz$' | sort || true); do gzip -dc "$STATE/$f"; done
}

cmd=${1:-}
case "$cmd" in
  start)
    seconds=${2:-7200}
    if [ -f "$RUN/train.pid" ] && kill -0 "$(cat "$RUN/train.pid")" 2>/dev/null; then
      echo "relay: already running (pid $(cat "$RUN/train.pid"))"; exit 1
    fi
    if [ ! -f "$DATA/manifest.json" ] || ! grep -q '"complete": true' "$DATA/manifest.json"; then
      echo "relay: building the shards first ($DATA, ~10-17 minutes)"
      node bin/face0.js augment --out "$DATA" --holdout-identities 20 --seed 0 --caption-style salient
    fi
    # with the kernel's autogroup scheduling on, `nice` only ranks processes inside one session's group:
    # a niced command started from another shell still takes a core from the run (seen here: the run fell
    # to half speed). Off, `nice -n 19` everywhere else does what the relay needs.
    ag=/proc/sys/kernel/sched_autogroup_enabled
    if [ -r "$ag" ] && [ "$(cat "$ag")" = 1 ]; then
      if [ -w "$ag" ]; then echo 0 > "$ag"; echo "relay: kernel autogroup scheduling turned off (so nice works)"
      else echo "relay: warning: autogroup scheduling is on and $ag is not writable: nice will not protect the run"; fi
    fi
    mkdir -p "$RUN"
    # FACE0_RELAY_STEPS: the step to stop at (checkpointed there): a branch or an A/B arm of exact length
    args=(--data "$DATA" --out "$RUN" --seconds "$seconds" --steps "${FACE0_RELAY_STEPS:-10000000}" --workers 0
          --val-every 500 --ckpt-every 500 --sample-every 5000 --log-every 20)
    if [ -f "$RUN/ckpt.pt" ] || [ -f "$STATE/state.json" ]; then
      # this machine's settings, whatever the state's last segment used (the GPU machine: batch 256, in memory)
      args+=(--resume --state "$STATE" --set "train.batch=$BATCH" --set train.in_memory=false)
      # a fresh run folder continues the state's learning curve (finish stores it back, gzipped since sitting 17)
      if [ ! -f "$RUN/ckpt.pt" ]; then
        if [ -f "$STATE/metrics.jsonl.gz" ]; then committed_curve > "$RUN/metrics.jsonl"
        elif [ -f "$STATE/metrics.jsonl" ]; then cp "$STATE/metrics.jsonl" "$RUN/metrics.jsonl"; fi
      fi
    else
      echo "relay: no checkpoint and no state: a new run (config $CONFIG, stage $STAGE)"
      args+=(--config "$CONFIG" --stage "$STAGE")
    fi
    # FACE0_RELAY_SET: more SECTION.FIELD=VALUE changes, space-separated, for a new run or a resumed one
    # (a cooldown branch, RECIPES.md)
    for o in ${FACE0_RELAY_SET:-}; do args+=(--set "$o"); done
    cd trainer
    # ranks started directly with the env:// variables torchrun would set (no agent between the signal and
    # the ranks: on SIGTERM every rank checkpoints itself); setsid makes them one process group for `stop`
    FACE0_THREADS=1 RANKS=$RANKS PY=$PY setsid nohup bash -c '
      for r in $(seq 0 $((RANKS - 1))); do
        RANK=$r LOCAL_RANK=$r WORLD_SIZE=$RANKS LOCAL_WORLD_SIZE=$RANKS MASTER_ADDR=127.0.0.1 \
          MASTER_PORT=${FACE0_RELAY_PORT:-29517} "$PY" -m face0_trainer train "$@" &
      done
      wait' relay "${args[@]}" >> "$RUN/train.log" 2>&1 &
    echo $! > "$RUN/train.pid"
    echo "relay: started (pid $!, budget ${seconds}s), log $RUN/train.log"
    ;;
  status)
    tail -n 3 "$RUN/train.log"
    grep "^val step" "$RUN/train.log" | tail -n 5 || true
    ;;
  stop)
    pid=$(cat "$RUN/train.pid" 2>/dev/null || true)
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then echo "relay: not running"; exit 0; fi
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
    echo "relay: SIGTERM sent; waiting for the checkpoint"
    # the wrapper shell dies at once; wait for the ranks (same process group) to write the checkpoint
    while pgrep -g "$pid" >/dev/null; do sleep 2; done
    tail -n 3 "$RUN/train.log"
    ;;
  finish)
    cd trainer
    # FACE0_FACE_START(_RANDOM), FACE0_GUIDANCE_RESCALE: the bundle's default face starts and guidance rescale
    # (manifest defaults.face_start, defaults.face_start_random, defaults.guidance_rescale; docs/GENERATE.md)
    "$PY" -m face0_trainer export --ckpt "$RUN/ckpt.pt" --data "$DATA" --out "$BUNDLE" --name face0-64 \
      ${FACE0_FACE_START:+--face-start "$FACE0_FACE_START"} \
      ${FACE0_FACE_START_RANDOM:+--face-start-random "$FACE0_FACE_START_RANDOM"} \
      ${FACE0_GUIDANCE_RESCALE:+--guidance-rescale "$FACE0_GUIDANCE_RESCALE"}
    # the relay's history is bounded (400 MB) and full since sitting 20: the state names the bundle just
    # written (bundle_weights.py reads its weights back bit for bit) and holds no weights itself.
    # FACE0_STATE_WEIGHTS=1: the EMA alone, its weight matrices in int8, lzma-compressed (sittings 14-21)
    if [ "${FACE0_STATE_WEIGHTS:-0}" = 1 ]; then weights=(--ema-only --ema-int8); else weights=(--bundle "$BUNDLE"); fi
    # --reset-cooldown: a cooldown branch's state goes on at the constant lr (the relay's own has no cooldown)
    "$PY" -m face0_trainer save-state --ckpt "$RUN/ckpt.pt" --out "$STATE" "${weights[@]}" --reset-cooldown --xz
    # the learning curve, gzipped (-n: no name or time in the header, so an unchanged curve is an unchanged blob):
    # since sitting 22 only the rows past the committed curve, as a part of their own (~10 KB a sitting instead
    # of the whole curve again, ~215 KB); a run whose log does not begin with the committed curve writes it whole
    step=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["step"])' "$STATE/state.json")
    old=$(mktemp); committed_curve > "$old"; n=$(wc -l < "$old")
    if [ "$n" -gt 0 ] && head -n "$n" "$RUN/metrics.jsonl" | cmp -s - "$old"; then
      if [ "$(wc -l < "$RUN/metrics.jsonl")" -gt "$n" ]; then
        tail -n +"$((n + 1))" "$RUN/metrics.jsonl" | gzip -9 -n > "$STATE/metrics-$(printf %08d "$step").jsonl.gz"
      fi
    else
      [ "$n" -eq 0 ] || echo "relay: $RUN/metrics.jsonl does not begin with the committed curve: writing it whole"
      gzip -9 -n -c "$RUN/metrics.jsonl" > "$STATE/metrics.jsonl.gz"; rm -f "$STATE"/metrics-*.jsonl.gz
    fi
    rm -f "$old" "$STATE/metrics.jsonl"
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2
    ;;
esac
