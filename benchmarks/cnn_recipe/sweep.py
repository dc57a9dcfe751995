"""One training run of the CNN image tower + a head over e5-multilingual text features, on
the arrays written by ``export.py``; prints one JSON line with the best validation epoch's
text->image recall on the OpenMoji test split and on its concepts drawn by Twemoji, Noto and
OpenMoji's line art.

It is the training loop of ``xmodal train --method cnn-infonce`` stripped to arrays, so that
many settings run side by side on a GPU machine where the package's other dependencies (and
the text encoder, whose features are exported) are not installed: there, ``models.py`` and
``losses.py`` of ``xmodal.learn`` are copied beside this file as ``xm_models.py`` and
``xm_losses.py``. ``run_gpu.sh`` holds the settings compared in docs/benchmarks.md.
"""

import argparse
import json
import math
import sys
import time

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
try:
    from xmodal.learn.losses import info_nce
    from xmodal.learn.models import Augment, CnnConfig, HeadConfig, JointModel, uint8_to_tensor
except ImportError:  # the GPU machine: the two modules copied beside this file
    from xm_losses import info_nce  # type: ignore[no-redef]
    from xm_models import (  # type: ignore[no-redef]
        Augment,
        CnnConfig,
        HeadConfig,
        JointModel,
        uint8_to_tensor,
    )

ap = argparse.ArgumentParser()
ap.add_argument("--size", type=int, default=64)
ap.add_argument("--width", type=int, default=32)
ap.add_argument("--blocks", type=int, default=0)
ap.add_argument("--epochs", type=int, default=100)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--wd", type=float, default=1e-4)
ap.add_argument("--bs", type=int, default=128)
ap.add_argument("--dim", type=int, default=128)
ap.add_argument("--dropout", type=float, default=0.1)
ap.add_argument("--aug", default="")
ap.add_argument("--arrays", default="om.npz")
ap.add_argument("--name", default="run")
ap.add_argument("--text", default="ann")
ap.add_argument("--extra", action="store_true")
ap.add_argument("--seed", type=int, default=0)
a = ap.parse_args()
dev = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(a.seed)
D = np.load(a.arrays)
S = a.size
big = round(S * 1.25)
px_np, rows_np = D[f"px{S}_train"], np.arange(len(D["c_train"]))
if a.extra:
    px_np = np.concatenate([px_np, D[f"twtr{big}"]])
    rows_np = np.concatenate([rows_np, D["twtr_rows"]])
px = torch.from_numpy(px_np).to(dev)
rows_t = torch.from_numpy(rows_np).to(dev)
y = {s: torch.from_numpy(D[f"y_{s}"]).to(dev) for s in ("train", "val", "test")}
ytr = torch.stack(
    [
        torch.from_numpy(D["y_train"]),
        torch.from_numpy(D["y_train_document"]),
        torch.from_numpy(D["y_train_tags"]),
    ]
).to(dev)
c_train = torch.from_numpy(D["c_train"]).to(dev)[rows_t]
aug_over = {k: float(v) for k, v in (kv.split("=") for kv in a.aug.split(",") if kv)}
aug = Augment(size=S, **aug_over)
arch = {
    "image": CnnConfig(a.dim, S, a.width, a.dropout, a.blocks).to_json(),
    "text": HeadConfig(384, a.dim, "mlp", 512, a.dropout).to_json(),
    "temperature": 0.07,
    "learn_temperature": True,
}
m = JointModel(arch).to(dev)
opt = torch.optim.AdamW(
    [
        {"params": [w for n, w in m.named_parameters() if not n.startswith("temperature.")]},
        {"params": m.temperature.parameters(), "weight_decay": 0.0},
    ],
    lr=a.lr,
    weight_decay=a.wd,
)
n = len(px)
per = math.ceil(n / a.bs)
total = per * a.epochs


def emb_img(arr):
    m.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(arr), 256):
            out.append(m.encode_image(uint8_to_tensor(arr[s : s + 256]).to(dev)))
    return torch.cat(out)


def emb_txt(t):
    m.eval()
    with torch.no_grad():
        return m.encode_text(t)


def recall(img, txt, img_concepts, txt_concepts):
    # one query per distinct text concept; relevant = images of that concept
    _, first = np.unique(txt_concepts, return_index=True)
    q = txt[torch.from_numpy(first).to(dev)]
    sims = (q @ img.T).cpu().numpy()
    order = np.argsort(-sims, axis=1)
    rel = img_concepts[order] == txt_concepts[first][:, None]
    rank = rel.argmax(1)
    return {
        "r1": float((rank < 1).mean()),
        "r5": float((rank < 5).mean()),
        "r10": float((rank < 10).mean()),
        "mrr": float((1 / (rank + 1)).mean()),
    }


def evaluate():
    out = {}
    for s in ("val", "test"):
        c = D[f"c_{s}"]
        out[s] = recall(emb_img(D[f"px{S}_{s}"]), emb_txt(y[s]), c, c)
    c = D["c_test"]
    for k in ("tw", "bk", "noto"):
        rows = D[f"{k}_rows"]
        out[k] = recall(
            emb_img(D[f"{k}{S}"]),
            emb_txt(y["test"][torch.from_numpy(rows).to(dev)]),
            c[rows],
            c[rows],
        )
    return out


best, best_ep, hist = (-1, -1), 0, []
t0 = time.time()
g = torch.Generator().manual_seed(a.seed)
for ep in range(a.epochs):
    m.train()
    perm = torch.randperm(n, generator=g)
    for i in range(per):
        step = ep * per + i
        lr = (
            a.lr * (step + 1) / per
            if step < per
            else 0.5 * a.lr * (1 + math.cos(math.pi * (step - per) / max(1, total - per)))
        )
        for gr in opt.param_groups:
            gr["lr"] = lr
        idx = perm[i * a.bs : (i + 1) * a.bs].to(dev)
        if len(idx) < 2:
            continue
        r = rows_t[idx]
        if a.text == "mix":
            which = torch.randint(0, 3, (len(idx),), generator=g).to(dev)
            yt = ytr[which, r]
        else:
            yt = ytr[0, r]
        zi = m.encode_image(aug(px[idx], g))
        zt = m.encode_text(yt)
        loss = info_nce(zi, zt, m.temperature(), c_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    if (ep + 1) % 5 == 0 or ep == a.epochs - 1:
        r = evaluate()
        sc = (r["val"]["r10"], r["val"]["mrr"])
        hist.append(
            {"ep": ep + 1, "loss": float(loss), **{k: round(v["r10"], 3) for k, v in r.items()}}
        )
        if sc > best:
            best, best_ep, best_r = sc, ep + 1, r
print(
    json.dumps(
        {
            "name": a.name,
            "args": vars(a),
            "best_ep": best_ep,
            "secs": round(time.time() - t0),
            "params": sum(p.numel() for p in m.image.parameters()),
            **{k: {kk: round(vv, 4) for kk, vv in v.items()} for k, v in best_r.items()},
            "hist": hist,
        }
    ),
    flush=True,
)
