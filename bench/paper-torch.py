# The authors' Neural Mimicry loop (RECAST, ICLR 2025, docs/RECAST.md section 2) in PyTorch, written
# for `npm run bench -- --only paper` from the paper's description: the peer the fused loop is timed
# against. One joint loop over every bank, as the authors train: templates drawn kaiming-normal
# (fan-in), each coefficient set an orthogonal (n, 1) vector, the role-weighted SmoothL1 of the
# rebuilt weights (mean over elements), fresh N(0, noise^2) on the coefficients each step, RMSprop
# (alpha 0.99, eps 1e-8), StepLR, clip_grad_norm_ over all parameters, the lowest-loss state kept.
# Vectorised per bank (W = mean_k(C) @ T), which is at least as fast as a loop over layers.
#
# Input: one JSON argument {file, banks: [{members, weights}], n, K, steps, lr, lrStep, lrGamma,
# beta, noise, clip, threads, seed}. Output: one JSON line {seconds, steps, loss, cosines}.
import json
import struct
import sys
import time

import numpy as np
import torch


def read_tensors(path, names):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        out = {}
        for name in names:
            info = header[name]
            if info["dtype"] != "F32":
                raise SystemExit(f"{name}: only F32 members are supported here, got {info['dtype']}")
            start, end = info["data_offsets"]
            f.seek(8 + size + start)
            out[name] = np.frombuffer(f.read(end - start), dtype=np.float32).reshape(info["shape"])
        return out


def main():
    cfg = json.loads(sys.argv[1])
    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(cfg["seed"])
    names = [m for b in cfg["banks"] for m in b["members"]]
    arrays = read_tensors(cfg["file"], names)
    n, K = cfg["n"], cfg["K"]
    banks = []
    for b in cfg["banks"]:
        target = torch.from_numpy(np.stack([arrays[m].reshape(-1) for m in b["members"]]).copy())  # [L, d]
        shape = arrays[b["members"][0]].shape
        templates = torch.empty((n,) + tuple(shape))
        for t in range(n):
            torch.nn.init.kaiming_normal_(templates[t])
        coefs = torch.empty(len(b["members"]), K, n, 1)
        for layer in range(len(b["members"])):
            for k in range(K):
                torch.nn.init.orthogonal_(coefs[layer, k])
        banks.append(
            {
                "target": target,
                "T": torch.nn.Parameter(templates.reshape(n, -1)),
                "C": torch.nn.Parameter(coefs.reshape(len(b["members"]), K, n)),
                "w": torch.tensor(b["weights"], dtype=torch.float32),
            }
        )
    params = [p for b in banks for p in (b["T"], b["C"])]
    opt = torch.optim.RMSprop(params, lr=cfg["lr"], alpha=0.99, eps=1e-8)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg["lrStep"], gamma=cfg["lrGamma"])
    beta, noise, clip = cfg["beta"], cfg["noise"], cfg["clip"]

    def loss_of(b, C):
        rebuilt = C.mean(1) @ b["T"]
        per_layer = torch.nn.functional.smooth_l1_loss(rebuilt, b["target"], reduction="none", beta=beta).mean(1)
        return (per_layer * b["w"]).sum()

    best, best_state = float("inf"), None
    started = time.perf_counter()
    for _ in range(cfg["steps"]):
        opt.zero_grad(set_to_none=True)
        loss = sum(loss_of(b, b["C"] + noise * torch.randn_like(b["C"]) if noise > 0 else b["C"]) for b in banks)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, clip)
        value = loss.item()
        if value < best:
            best, best_state = value, [p.detach().clone() for p in params]
        opt.step()
        sched.step()
    seconds = time.perf_counter() - started

    with torch.no_grad():
        final = sum(loss_of(b, b["C"]) for b in banks).item()
        if final < best:
            best, best_state = final, [p.detach().clone() for p in params]
        cosines = []
        for i, b in enumerate(banks):
            T, C = best_state[2 * i], best_state[2 * i + 1]
            rebuilt = C.mean(1) @ T
            cosines += torch.nn.functional.cosine_similarity(rebuilt.double(), b["target"].double(), dim=1).tolist()
    print(json.dumps({"seconds": seconds, "steps": cfg["steps"], "loss": best, "cosines": cosines, "torch": torch.__version__}))


main()
