"""Rebuild the dense state dict from a recast safetensors file (docs/FORMAT.md), with numpy only.

    from load_recast import load_recast
    state = load_recast("model.recast.safetensors")   # {name: np.ndarray}, original names and shapes

    from load_recast import load_task_bank
    members, updates = load_task_bank("family.bank.safetensors")   # updates[member][layer]: float64 dW

BF16 tensors come back as float32 arrays holding the exact bfloat16 values (numpy has no bfloat16).
Run as a script, it compares its rebuild with a dense export:  python3 load_recast.py RECAST DENSE
"""
import json
import struct
import sys

import numpy as np

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
           "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}


def read_safetensors(path):
    """(metadata, {name: (dtype, shape, raw numpy array)}) for one .safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        raw = np.frombuffer(data, dtype=_DTYPES[e["dtype"]], count=(end - begin) // np.dtype(_DTYPES[e["dtype"]]).itemsize,
                            offset=8 + n + begin)
        out[name] = (e["dtype"], tuple(e["shape"]), raw.reshape(e["shape"]))
    return meta, out


def bf16_bits_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16_bits(x):
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = ((u + np.uint32(0x7FFF) + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    return np.where(nan, ((u >> 16) & 0x8000).astype(np.uint16) | np.uint16(0x7FC0), rounded)


def load_recast(path):
    """Dense {name: array} from a recast file: W = mean_k(sum_t C[k, t] T[t]) in float64, cast like the source."""
    meta, tensors = read_safetensors(path)
    if meta.get("format") != "recast" or meta.get("recast.version") != "1":
        raise ValueError(f"{path} is not a recast version 1 file")
    banks = json.loads(meta["recast.banks"])
    made = set()
    state = {}
    for bank, b in banks.items():
        dtype, _, raw = tensors["recast.templates." + bank]  # F32, or the bank's source_dtype
        templates = (bf16_bits_to_f32(raw) if dtype == "BF16" else raw).astype(np.float64)
        n = templates.shape[0]
        templates = templates.reshape(n, -1)
        made.add("recast.templates." + bank)
        for name in b["members"]:
            coefficients = tensors["recast.coefficients." + name][2].astype(np.float64)
            made.add("recast.coefficients." + name)
            mean = coefficients.sum(axis=0) / coefficients.shape[0]
            w = np.zeros(templates.shape[1], dtype=np.float64)
            for t in range(n):  # the same summation order as the exporter: bit-identical float32
                w += mean[t] * templates[t]
            w = w.astype(np.float32).reshape(b["shape"])
            if b["source_dtype"] == "BF16":
                w = bf16_bits_to_f32(f32_to_bf16_bits(w))
            elif b["source_dtype"] == "F16":
                w = w.astype(np.float16)
            state[name] = w
    for name, (dtype, _, raw) in tensors.items():
        if name not in made:
            state[name] = bf16_bits_to_f32(raw) if dtype == "BF16" else raw.copy()
    return state


def load_task_bank(path):
    """(members, {member name: {layer: float64 update}}) from a task bank (docs/FORMAT.md section 8).

    update = sum_t C[m, i, t] * T[t] for member m and layer i of each bank, adding t in ascending order."""
    meta, tensors = read_safetensors(path)
    if meta.get("format") != "recast-taskbank" or meta.get("taskbank.version") != "1":
        raise ValueError(f"{path} is not a task bank version 1 file")
    members = json.loads(meta["taskbank.members"])
    updates = {m["name"]: {} for m in members}
    for bank, b in json.loads(meta["taskbank.banks"]).items():
        templates = tensors["taskbank.templates." + bank][2].astype(np.float64)
        coefficients = tensors["taskbank.coefficients." + bank][2].astype(np.float64)
        n = templates.shape[0]
        templates = templates.reshape(n, -1)
        for m, member in enumerate(members):
            for i, layer in enumerate(b["layers"]):
                w = np.zeros(templates.shape[1], dtype=np.float64)
                for t in range(n):
                    w += coefficients[m, i, t] * templates[t]
                updates[member["name"]][layer] = w.reshape(b["shape"])
    return members, updates


def _compare(recast_path, dense_path):
    state = load_recast(recast_path)
    _, dense = read_safetensors(dense_path)
    report = {"tensors": len(state), "dense_tensors": len(dense), "mismatched": [], "max_abs_diff": 0.0}
    for name, (dtype, shape, raw) in dense.items():
        ref = bf16_bits_to_f32(raw) if dtype == "BF16" else raw
        got = state.get(name)
        if got is None or tuple(got.shape) != shape or got.dtype != ref.dtype:
            report["mismatched"].append(name)
            continue
        if not np.array_equal(got.view(np.uint8), np.ascontiguousarray(ref).view(np.uint8)):
            report["mismatched"].append(name)
            diff = np.abs(got.astype(np.float64) - ref.astype(np.float64)).max()
            report["max_abs_diff"] = max(report["max_abs_diff"], float(diff))
    print(json.dumps(report))
    return 0 if not report["mismatched"] and len(state) == len(dense) else 1


if __name__ == "__main__":
    sys.exit(_compare(sys.argv[1], sys.argv[2]))
