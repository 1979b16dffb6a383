#!/bin/sh
# Trains the second pool (issue 15): the chat base, then three small specialists from it in parallel
# (sum-a and sum-b on disjoint halves of the sum training groups with different seeds, facts), then
# exports them with the project's GGUF writer and merges them (task arithmetic, weights fixed at 1.0).
# One thread per run, niced (the machine has two cores shared by six engineers). Budgets were fixed
# before any score was seen, to keep all training near 25 CPU-minutes on this machine.
# Usage: sh tools/train/pool2/run_all.sh
set -e
cd "$(dirname "$0")/../../.."
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
T=tools/train/pool2/train.py
/usr/bin/python3 tools/train/pool2/make_data.py
nice -n 5 /usr/bin/python3 $T --id chat-base --steps 200 --batch 8 --collab 0.35 --seed 1
nice -n 5 /usr/bin/python3 $T --id sum-a --init chat-base --task sum --half a --steps 30 --batch 8 --lr 0.002 --collab 0.35 --seed 1 &
nice -n 5 /usr/bin/python3 $T --id sum-b --init chat-base --task sum --half b --steps 30 --batch 8 --lr 0.002 --collab 0.35 --seed 2 &
nice -n 5 /usr/bin/python3 $T --id facts --init chat-base --task facts --steps 30 --batch 8 --lr 0.002 --collab 0.35 --seed 1 &
wait
npx tsx tools/train/export.ts chat-base sum-a sum-b facts --from tools/train/pool2/out --out public/pool2/models
SOURCE_DATE_EPOCH=1764547200 npm run merge -- public/pool2/models/pool2-merge.yaml
SOURCE_DATE_EPOCH=1764547200 npm run merge -- public/pool2/models/pool2-merge-third.yaml
