#!/bin/bash
# run on the GPU machine from a folder holding sweep.py, xm_models.py, xm_losses.py, om.npz
cd "$(dirname "$0")"
cat > /tmp/configs <<'C'
P1 --epochs 120
P2 --epochs 120 --text mix
P3 --epochs 120 --extra
P4 --epochs 120 --extra --text mix
P5 --epochs 120 --extra --text mix --aug thin_outline=0,thick_outline=0,blur=0,cutout=0,tinted_background=0
P6 --epochs 120 --extra --text mix --blocks 1
P7 --epochs 120 --extra --text mix --size 96 --width 48 --blocks 1 --wd 0.05
P8 --epochs 120 --extra --text mix --width 48
P9 --epochs 120 --text mix --aug thin_outline=0,thick_outline=0,blur=0,cutout=0,tinted_background=0
P10 --epochs 200 --extra --text mix
P11 --epochs 120 --extra --text mix --size 96
P12 --epochs 120 --extra --text mix --lr 5e-4
C
export OMP_NUM_THREADS=2
mkdir -p /tmp/res
cat /tmp/configs | xargs -P 8 -L 1 bash -c 'n=$0; python3 sweep.py --name $n "$@" > /tmp/res/$n.json 2> /tmp/res/$n.err; echo done $n'
cat /tmp/res/*.json > $OUT/all.jsonl
for f in /tmp/res/*.json; do python3 -c "
import json; r=json.load(open('$f')); a=r['args']
print(r['name'], a['size'], a['width'], a['blocks'], a['text'], a['extra'], r['best_ep'], r['secs'], ' '.join(f\"{k}:{r[k]['r1']:.3f}/{r[k]['r10']:.3f}\" for k in ('test','tw','bk','noto')))" 2>/dev/null || tail -3 ${f%.json}.err; done
