"""Independent numpy reference for `mimicry family` (docs/RECAST.md section 6), for the unit tests.

Reads a JSON spec on stdin: {"members": [{"file", "config", "kind": "peft" | "mlx" | "full"}],
"base": file or null, "banks": [{"name", "layers": [...]}], "templates": n}. Builds every layer's
update densely in float64 (PEFT: scale * B @ A, transposed for fan_in_fan_out and embeddings;
mlx-lm: scale * (a @ b)^T; full: W - W_base), then prints per layer the norms, cosines, singular
values, stable and effective rank, the whole-model cosines, per bank the fidelity-vs-n curve from a
dense SVD and the leave-one-out "captured" cosine, with a base the full-weights fit (the base's own
templates frozen, and a joint fit of every member's W + dW), and the PCA map, as JSON.
"""
import importlib.util
import json
import os
import re
import sys

import numpy as np

_spec = importlib.util.spec_from_file_location("loader", os.path.join(os.path.dirname(__file__), "recast-python-loader.py"))
_loader = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_loader)


def tensors_of(path):
    _, t = _loader.read_safetensors(path)
    out = {}
    for name, (dtype, shape, raw) in t.items():
        arr = _loader.bf16_bits_to_f32(raw) if dtype == "BF16" else raw
        out[name] = np.asarray(arr, dtype=np.float64).reshape(shape)
    return out


def pattern(patterns, name):
    for key, value in patterns.items():  # PEFT: the first key (in the config's order) that matches
        if re.match(rf"(.*\.)?({key})$", name):
            return value
    return None


def peft_updates(path, config):
    cfg = json.load(open(config))
    t = tensors_of(path)
    out = {}
    for name, a in t.items():
        m = re.match(r"^(.*)\.lora_A\.weight$", name) or re.match(r"^(.*)\.lora_embedding_A$", name)
        if not m:
            continue
        embedding = "lora_embedding" in name
        b = t[name.replace("lora_A", "lora_B").replace("lora_embedding_A", "lora_embedding_B")]
        module = m.group(1)
        if module.startswith("base_model.model."):
            module = module[len("base_model.model."):]
        r = pattern(cfg.get("rank_pattern") or {}, module) or cfg.get("r", 8)
        alpha = pattern(cfg.get("alpha_pattern") or {}, module) or cfg.get("lora_alpha", 8)
        scale = alpha / np.sqrt(r) if cfg.get("use_rslora") else alpha / r
        a2 = a.reshape(a.shape[0], -1)
        b2 = b.reshape(b.shape[0], -1)
        delta = scale * (b2 @ a2)
        if embedding or cfg.get("fan_in_fan_out"):
            delta = delta.T
        else:
            delta = delta.reshape((b.shape[0],) + a.shape[1:])  # a conv update has the kernel's shape
        out[module] = delta
    return out


def mlx_updates(path, config):
    cfg = json.load(open(config))
    scale = cfg["lora_parameters"]["scale"]
    t = tensors_of(path)
    out = {}
    for name, a in t.items():
        if name.endswith(".lora_a"):
            out[name[: -len(".lora_a")]] = scale * (a @ t[name[:-1] + "b"]).T
    return out


def full_updates(path, base):
    t = tensors_of(path)
    b = tensors_of(base)
    return {name[: -len(".weight")]: (w - b[name]).reshape(w.shape[0], -1) for name, w in t.items() if w.ndim >= 2 and name in b}


def cos(a, b):
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 and nb == 0:
        return 1.0
    if na == 0 or nb == 0:
        return 0.0
    return float(np.clip(np.dot(a.ravel(), b.ravel()) / (na * nb), -1, 1))


def projection_fraction(held, others, n):
    """sqrt(sum ||P x||^2 / sum ||x||^2), P onto the top-n right singular vectors of the unit-norm others."""
    y = np.array([o / np.linalg.norm(o) for o in others if np.linalg.norm(o) > 0])
    _, s, vt = np.linalg.svd(y, full_matrices=False)
    v = vt[:n]
    kept = sum(float(np.sum((v @ x) ** 2)) for x in held)
    total = sum(float(np.sum(x ** 2)) for x in held)
    return float(np.sqrt(kept / total)) if total > 0 else 1.0


def top_directions(items):
    """Right singular vectors of the unit-norm items, and their numerical rank."""
    y = np.array([x / np.linalg.norm(x) for x in items])
    _, s, vt = np.linalg.svd(y, full_matrices=False)
    return vt, int(np.sum(s ** 2 > s[0] ** 2 * len(items) * 1e-13))


def kept_cosine(xs, v):
    """sqrt(sum ||P x||^2 / sum ||x||^2), P onto the rows of v (least squares over them)."""
    total = sum(float(np.sum(x ** 2)) for x in xs)
    return float(np.sqrt(sum(float(np.sum((v @ x) ** 2)) for x in xs) / total)) if total > 0 else 1.0


def weights_fit(base, layers, updates):
    """Full weights W + dW: over the base's own first n templates (frozen), the update's part in their span, and a joint fit."""
    M = len(updates)
    w = [base[layer + ".weight"].astype(np.float64).ravel() for layer in layers]
    vb, base_rank = top_directions(w)
    full = [[w[k] + updates[m][layer].ravel() for k, layer in enumerate(layers)] for m in range(M)]
    vj, joint_rank = top_directions([full[m][k] for k in range(len(layers)) for m in range(M)])
    return {
        "baseRank": base_rank,
        "base": [kept_cosine(w, vb[:n]) for n in range(1, base_rank + 1)],
        "frozen": [[kept_cosine(full[m], vb[:n]) for n in range(1, base_rank + 1)] for m in range(M)],
        "update": [[kept_cosine([updates[m][layer].ravel() for layer in layers], vb[:n]) for n in range(1, base_rank + 1)] for m in range(M)],
        "jointRank": joint_rank,
        "joint": [[kept_cosine(full[m], vj[:n]) for n in range(1, joint_rank + 1)] for m in range(M)],
    }


def main():
    spec = json.load(sys.stdin)
    updates = []
    for m in spec["members"]:
        if m["kind"] == "peft":
            updates.append(peft_updates(m["file"], m["config"]))
        elif m["kind"] == "mlx":
            updates.append(mlx_updates(m["file"], m["config"]))
        else:
            updates.append(full_updates(m["file"], spec["base"]))
    M = len(updates)
    layers = {}
    whole = np.zeros((M, M))
    for bank in spec["banks"]:
        for layer in bank["layers"]:
            ds = [u[layer] for u in updates]
            svs = [np.linalg.svd(d.reshape(d.shape[0], -1), compute_uv=False) for d in ds]
            layers[layer] = {
                "shape": list(ds[0].shape),
                "norms": [float(np.linalg.norm(d)) for d in ds],
                "cosine": [[cos(a, b) for b in ds] for a in ds],
                "singularValues": [s.tolist() for s in svs],
                "stableRank": [float(np.sum(s ** 2) / s[0] ** 2) for s in svs],
                "effectiveRank": [float(np.exp(-np.sum((s / s.sum())[s > 0] * np.log((s / s.sum())[s > 0])))) for s in svs],
            }
            for a in range(M):
                for b in range(M):
                    whole[a, b] += float(np.dot(ds[a].ravel(), ds[b].ravel()))
    norms = np.sqrt(np.diag(whole))
    whole_cos = [[float(np.clip(whole[a, b] / (norms[a] * norms[b]), -1, 1)) for b in range(M)] for a in range(M)]

    banks = {}
    map_rows = []
    labels = []
    offsets = []
    width = 0
    for bank in spec["banks"]:
        items = [updates[m][layer].ravel() for layer in bank["layers"] for m in range(M)]  # layer-major, as the engine
        offsets.append((width, items[0].size))
        width += items[0].size
        y = np.array([x / np.linalg.norm(x) for x in items])
        _, s, vt = np.linalg.svd(y, full_matrices=False)
        rank = int(np.sum(s ** 2 > s[0] ** 2 * len(items) * 1e-13))
        curves = {}
        captured = {}
        for m in range(M):
            mine = [items[k * M + m] for k in range(len(bank["layers"]))]
            total = sum(float(np.sum(x ** 2)) for x in mine)
            curve = []
            for n in range(1, rank + 1):
                v = vt[:n]
                xhat = [(v.T @ (v @ x)) for x in mine]
                a = np.concatenate(mine)
                b = np.concatenate(xhat)
                curve.append(float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))))
            curves[m] = curve
            others = [items[i] for i in range(len(items)) if i % M != m]
            captured[m] = projection_fraction(mine, others, min(spec["templates"], len(others)))
        banks[bank["name"]] = {"rank": rank, "cosine": curves, "captured": captured}
        if spec["base"] is not None:
            banks[bank["name"]]["weights"] = weights_fit(tensors_of(spec["base"]), bank["layers"], updates)
        for i, x in enumerate(items):
            labels.append(i)
            map_rows.append((len(offsets) - 1, x / np.linalg.norm(x)))

    # PCA of the unit-norm updates, each bank in its own coordinates (a direct sum of the banks' spaces).
    X = np.zeros((len(map_rows), width))
    for i, (b, x) in enumerate(map_rows):
        start, size = offsets[b]
        X[i, start:start + size] = x
    Xc = X - X.mean(axis=0)
    u, s, _ = np.linalg.svd(Xc, full_matrices=False)
    points = []
    for axis in range(2):
        col = u[:, axis] * s[axis]
        if col[np.argmax(np.abs(u[:, axis]))] < 0:
            col = -col
        points.append(col.tolist())
    explained = (s[:2] ** 2 / np.sum(s ** 2)).tolist()
    print(json.dumps({"layers": layers, "cosine": whole_cos, "banks": banks,
                      "map": {"x": points[0], "y": points[1], "explained": explained}}))


if __name__ == "__main__":
    main()
