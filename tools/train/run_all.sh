#!/bin/sh
# Trains the whole pool: six specialists, the generalist on the mixture with the same total budget
# as the six specialists together (2500 + 400 + 300 + 600 + 500 + 1500 = 5800 steps × 32), and a
# second run of the safety specialist with the same seed to show that training is reproducible.
# One thread per run, niced, all in parallel (the machine has two cores shared by six engineers).
# Steps per task follow how fast each task's training loss fell in a first run: world, safety and
# code saturate early, arithmetic is hardest. Nothing here was chosen on test data.
# Usage: sh tools/train/run_all.sh && npx tsx tools/train/export.ts <ids…>
cd "$(dirname "$0")/../.."
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
train() { nice -n 5 /usr/bin/python3 tools/train/train.py --seed 1 "$@"; }
train --task arithmetic --steps 2500 --batch 32 &
train --task world --steps 400 --batch 32 &
train --task safety --steps 300 --batch 32 &
train --task code --steps 600 --batch 32 &
train --task reverse --steps 500 --batch 32 &
train --task reading --steps 1500 --batch 32 &
train --task mix --id generalist --steps 5800 --batch 32 &
train --task safety --id safety-specialist-rerun --steps 300 --batch 32 &
wait
