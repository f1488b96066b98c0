#!/usr/bin/env bash
# ClinicBench over many models and tasks as a Slurm job array: one array task per job of a plan
# written by `clinicbench plan` (models x tasks x shards). Each runs
# `clinicbench eval --plan PLAN`, which takes its job from SLURM_ARRAY_TASK_ID and writes
# RESULTS/<model>/<task>/shard-<i>; a task that is requeued continues from the samples it left.
# When the array is done, `clinicbench merge --plan PLAN --out merged` puts the shards together.
#
#   N=$(clinicbench plan --models a.gguf,b.gguf --suite clinicbench --shards 4 \
#         --data-root /shared/datasets --results /shared/results --out plan.json)
#   sbatch --array=0-$((N - 1))%8 deploy/slurm/clinicbench-array.sh plan.json
#
# (--array on the command line overrides the line below; %8 runs at most 8 at once.)
#SBATCH --job-name=clinicbench
#SBATCH --array=0-11%4
#SBATCH --cpus-per-task=4
#SBATCH --mem=16G
#SBATCH --time=24:00:00
#SBATCH --requeue
#SBATCH --output=clinicbench-%A_%a.log
set -euo pipefail

plan="${1:-${CLINICBENCH_PLAN:-plan.json}}"
clinicbench="${CLINICBENCH:-clinicbench}"
if [ -z "${SLURM_ARRAY_TASK_ID:-}" ]; then
  echo "clinicbench-array.sh: SLURM_ARRAY_TASK_ID is not set: submit it with sbatch --array=0-N" >&2
  exit 2
fi
exec "$clinicbench" eval --plan "$plan" --backend cpu --threads "${SLURM_CPUS_PER_TASK:-1}"
