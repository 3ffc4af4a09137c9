#!/usr/bin/env bash
# A relay segment on the GPU machine (issue 10 section 4), and its return to the relay here.
#
#   here, once per dataset:   cd trainer && python3 -m face0_trainer pack --data ../work/data64s --out ../work/gpu/pack.f0p
#   here, once per state:     cd trainer && python3 -m face0_trainer save-state --ckpt ../relay/face0-cpu --out ../work/gpu/state --ema-only
#                             (the committed state names the shipped bundle instead of holding weights since sitting 22;
#                             this writes them out, fp16, so the device's torch never has to read ONNX back)
#   on the device machine:    bash scripts/gpu-train.sh run            (device `run`, carry ["work/gpu"])
#   here, with what came back: bash scripts/gpu-train.sh receive DIR   (DIR: the run's files_at folder)
#
# `run` unpacks the pack (trainer/face0_trainer/pack.py), resumes the relay's committed state (or starts
# from scratch: FROM=scratch) with a GPU batch, the training set decoded once into GPU memory
# (train.in_memory), bf16 autocast and torch.compile (the trainer's CUDA path), trains TRAIN_SECONDS
# (hundreds of epochs of the 14k crops: --keep-best also keeps the checkpoint of the best held-out face
# gain), and writes to $OUT two compact states (EMA only), last/ and best/, each split in parts of 15 MiB (the
# device returns at most 8 files of at most 16 MiB) with its state.json, plus metrics.jsonl and the log.
# `receive` joins the parts into work/gpu/last and work/gpu/best (sha256 checked against state.json),
# exports one of them (PICK) to work/gpu/bundle and measures the face gain of both on the real held-out
# shards next to the relay's own state. A GPU state becomes the relay only by shipping (the relay's history
# is full since sitting 20): its bundle evaluated against the default, and if it ships, copied to
# models/face0-64 and `save-state --ckpt work/gpu/PICK --bundle ../models/face0-64 --out ../relay/face0-cpu`.
#
# Settings (environment): PACK, OUT, TRAIN_SECONDS (400), FROM (work/gpu/state | a state folder | scratch),
# CONFIG (scratch only; cpu), BATCH (256), VAL_EVERY (500), VAL_SAMPLES (256), SET (more train.*
# overrides, space-separated), PICK (receive: best | last), PY (run: python3; receive: /usr/bin/python3),
# WORK (/tmp/face0-gpu).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PACK=${PACK:-$ROOT/work/gpu/pack.f0p}
WORK=${WORK:-/tmp/face0-gpu}
FROM=${FROM:-$ROOT/work/gpu/state}
PART=15M

cmd=${1:-}
case "$cmd" in
  run)
    : "${OUT:?set OUT to the folder whose files come back}"
    [ -f "$PACK" ] || { echo "gpu-train: no pack at $PACK (make it here with face0_trainer pack, carry work/gpu)"; exit 2; }
    PY=${PY:-python3}               # the device's python3 holds PyTorch 2.x
    secs=${TRAIN_SECONDS:-400}
    rm -rf "$WORK"; mkdir -p "$WORK" "$OUT"
    "$PY" -c 'import torch; print("torch", torch.__version__, "| cuda", torch.cuda.is_available(),
              torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
    cd trainer
    "$PY" -m face0_trainer unpack --pack "$PACK" --out "$WORK/data"
    args=(--data "$WORK/data" --out "$WORK/run" --seconds "$secs" --steps 10000000 --workers -1
          --val-every "${VAL_EVERY:-500}" --val-samples "${VAL_SAMPLES:-256}" --keep-best
          --ckpt-every 2000 --sample-every 0 --log-every 50
          --set "train.batch=${BATCH:-256}" --set train.compile=true --set train.in_memory=true)
    for s in ${SET:-}; do args+=(--set "$s"); done
    if [ "$FROM" = scratch ]; then
      args+=(--config "${CONFIG:-cpu}" --stage joint)
    else
      args+=(--resume --state "$FROM")
    fi
    PYTHONUNBUFFERED=1 "$PY" -m face0_trainer train "${args[@]}" 2>&1 | tee "$OUT/train.log"
    for which in last best; do
      ck=$WORK/run/ckpt.pt; [ "$which" = last ] || ck=$WORK/run/best.pt
      [ -f "$ck" ] || continue
      # EMA only, as `relay.sh finish` commits (RECIPES.md, sitting 14): what comes back can become the relay
      "$PY" -m face0_trainer save-state --ckpt "$ck" --out "$WORK/$which" --ema-only
      mkdir -p "$OUT/$which"
      split -b "$PART" -d "$WORK/$which/state.pt" "$OUT/$which/state.pt.part-"
      cp "$WORK/$which/state.json" "$OUT/$which/"
    done
    cp "$WORK/run/metrics.jsonl" "$OUT/"
    ls -lR "$OUT"
    ;;
  receive)
    src=${2:?usage: gpu-train.sh receive DIR}
    PY=${PY:-/usr/bin/python3}      # here: Debian's python3-torch
    ls "$src"/last/state.pt.part-* >/dev/null 2>&1 || { echo "gpu-train: no last/state.pt.part-* in $src"; exit 2; }
    states=()
    for which in last best; do
      dest=$ROOT/work/gpu/$which
      rm -rf "$dest"
      [ -d "$src/$which" ] || continue
      mkdir -p "$dest"
      cat "$src/$which"/state.pt.part-* > "$dest/state.pt"
      cp "$src/$which/state.json" "$dest/"
      for f in metrics.jsonl train.log; do [ ! -f "$src/$f" ] || cp "$src/$f" "$dest/"; done
      states+=("$dest")
    done
    data=${FACE0_RELAY_DATA:-$ROOT/work/data64s}
    cd trainer
    # the bundle of one of them (PICK: best, where the run kept one, or last), for `face0 eval`
    pick=$ROOT/work/gpu/${PICK:-best}; [ -d "$pick" ] || pick=${states[-1]}
    "$PY" -m face0_trainer export --ckpt "$pick" --data "$data" --out "$ROOT/work/gpu/bundle" --name face0-64
    for s in "${states[@]}" "$FROM"; do
      [ -d "$s" ] || continue
      echo "face gain of $s on the held-out people (their captions, then 'a photo of a person'):"
      "$PY" -m face0_trainer face-gain --ckpt "$s" --data "$data" | tail -n 1
      "$PY" -m face0_trainer face-gain --ckpt "$s" --data "$data" --caption "a photo of a person" | tail -n 1
    done
    ;;
  *)
    sed -n '2,20p' "$0"; exit 2
    ;;
esac
