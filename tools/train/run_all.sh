#!/bin/sh
# Trains the whole pool, one thread per run, niced, in three parallel chains (the machine has two
# shared cores): six specialists, the generalist (same steps × batch as one specialist on the
# mixture), and a second run of the code specialist with the same seed to show reproducibility.
# Arithmetic, the hardest task, gets more steps. Usage: sh tools/train/run_all.sh
cd "$(dirname "$0")/../.."
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
train() { nice -n 5 /usr/bin/python3 tools/train/train.py --batch 32 --seed 1 "$@"; }
S=1500
(train --task arithmetic --steps 2500 && train --task world --steps $S && train --task reverse --steps $S) &
(train --task safety --steps $S && train --task reading --steps $S) &
(train --task code --steps $S && train --task mix --id generalist --steps $S \
  && train --task code --id code-specialist-rerun --steps $S) &
wait
