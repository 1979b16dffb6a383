#!/bin/sh
# Trains the whole pool in sequence (one thread each, niced): six specialists, the generalist with the
# same steps × batch as one specialist, and a second run of one specialist with the same seed to show
# that training is reproducible. Usage: sh tools/train/run_all.sh [steps] [batch]
set -e
cd "$(dirname "$0")/../.."
STEPS=${1:-1000}
BATCH=${2:-32}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
for t in arithmetic world reverse reading safety code; do
  nice -n 5 /usr/bin/python3 tools/train/train.py --task $t --steps $STEPS --batch $BATCH --seed 1
done
nice -n 5 /usr/bin/python3 tools/train/train.py --task mix --id generalist --steps $STEPS --batch $BATCH --seed 1
nice -n 5 /usr/bin/python3 tools/train/train.py --task arithmetic --id arithmetic-specialist-rerun --steps $STEPS --batch $BATCH --seed 1
