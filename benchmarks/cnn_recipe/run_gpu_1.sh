#!/bin/bash
# name|args
# run on the GPU machine from a folder holding sweep.py, xm_models.py, xm_losses.py, om.npz
cd "$(dirname "$0")"
nvidia-smi --query-gpu=name,memory.used --format=csv,noheader
python3 -c "import torch, numpy; print(torch.__version__, numpy.__version__, torch.cuda.is_available())"
cat > /tmp/configs <<'C'
A --size 64 --width 32 --epochs 150
B --size 64 --width 32 --epochs 150 --aug thin_outline=0,thick_outline=0,blur=0,cutout=0,tinted_background=0
C --size 96 --width 32 --epochs 150
D --size 64 --width 32 --blocks 1 --epochs 150
E --size 96 --width 48 --blocks 1 --epochs 150
F --size 96 --width 64 --blocks 2 --epochs 150
G --size 64 --width 48 --epochs 150
I --size 64 --width 32 --epochs 300
K --size 64 --width 32 --epochs 150 --lr 3e-3
L --size 64 --width 32 --epochs 150 --wd 0.05
M --size 64 --width 32 --epochs 150 --dropout 0.3
N --size 96 --width 48 --blocks 1 --epochs 150 --wd 0.05
C
export OMP_NUM_THREADS=2
cat /tmp/configs | xargs -P 6 -L 1 bash -c 'n=$0; python3 sweep.py --name $n "$@" > $OUT/$n.json 2> $OUT/$n.err; echo done $n $(tail -c 300 $OUT/$n.json | head -c 0)'
for f in $OUT/*.json; do python3 -c "import json,sys; r=json.load(open('$f')); print(r['name'], r['args']['size'], r['args']['width'], r['args']['blocks'], r['best_ep'], r['secs'], r['params'], 'test', r['test'], 'tw', r['tw'])" 2>/dev/null || tail -3 ${f%.json}.err; done
