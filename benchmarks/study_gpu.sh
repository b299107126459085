#!/bin/bash
# Issue 10 on a lent GPU, in one device call: the study's from-scratch W4A4 cells
# (study_fashion_mnist.py --only scratch --jobs 6) beside four tries at "SAT W4A4 >= FP"
# (EXTRAS below), all sharing the GPU under CUDA MPS, one CPU thread each. Not a test.
#
# Everything is stopped DEADLINE_S seconds after the start. Each run keeps a checkpoint per
# epoch, so a stopped run resumes on any machine: the study's by running the study script
# again (runs/study/), an extra by its command from runs/gpu/<name>.cmd plus --resume.
# OUT receives: study.log, study_fashion_mnist.json (the study's rows, old and new),
# study_runs.tar (runs/study/scratch_*), extras.tar (runs/gpu/: checkpoints, logs, commands).
#
#   bash benchmarks/study_gpu.sh OUT DATA_ROOT [DEADLINE_S]     # e.g. $OUT .data/fashion-mnist 480
set -u
out=$1 data=$2 deadline=${3:-480}
py=${PYTHON:-python3}
work=runs/gpu
mkdir -p "$out" "$work" runs/study
echo "$(nproc) CPUs"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
if nvidia-cuda-mps-control -d 2>/dev/null; then echo "CUDA MPS on"; else echo "CUDA MPS off"; fi
nvidia-smi -L 2>/dev/null
t0=$(date +%s)

timeout "$deadline" "$py" benchmarks/study_fashion_mnist.py --only scratch --jobs 6 \
    --threads 1 --data-root "$data" >"$out/study.log" 2>&1 &

printf '[train]\ndistill_weight = 0.9\n' >"$work/kd09.toml"
extra() {  # name, then sat_hw train arguments (SAT W4A4, batch 256, the teacher given)
    local name=$1; shift
    local cmd=(-m sat_hw train --method sat --wbits 4 --abits 4 --batch-size 256
               --distill zoo/mbv1_fm_fp.pt --data-root "$data" --out "$work/$name.pt" "$@")
    echo "sat_hw ${cmd[*]:2}" >"$work/$name.cmd"
    timeout "$deadline" "$py" "${cmd[@]}" >"$work/$name.log" 2>&1 &
}
# EXTRAS: from scratch with the FP recipe plus the teacher; a teacher weight of 0.9; from the
# zoo's W8A8 (progressive 8 -> 4 bits); half the zoo W4A4's fine-tuning lr.
extra kd_scratch --lr 0.1 --epochs 35
extra kd_w09 --init zoo/mbv1_fm_fp.pt --lr 0.01 --epochs 32 --config "$work/kd09.toml"
extra kd_from_w8a8 --init zoo/mbv1_fm_sat_w8a8.pt --lr 0.01 --epochs 32
extra kd_lr005 --init zoo/mbv1_fm_fp.pt --lr 0.005 --epochs 32

wait  # timeout signals its whole process group: the study driver's runs stop with it
echo "trained for $(($(date +%s) - t0)) s"
for f in "$work"/*.log runs/study/scratch_*.log; do echo "$f: $(tail -n 1 "$f")"; done
cp benchmarks/results/study_fashion_mnist.json "$out/"
tar cf "$out/study_runs.tar" runs/study/scratch_* 2>/dev/null
tar cf "$out/extras.tar" "$work"
ls -la "$out"
