# numpy's time for the closed form's linear algebra on the same groups as the bench's export: per
# bank, the SVD of the members stacked as rows (the fit) and the singular values of each template
# (template entropy), all in float64 (LAPACK, whatever BLAS numpy links). Reading the file and
# writing the outputs are not included. Input on stdin: {"file": path, "banks": [{"members":
# [names], "shape": [rows, cols], "n": templates}]}. Prints one JSON line.
import json
import struct
import sys
import time

import numpy as np


def main():
    job = json.load(sys.stdin)
    with open(job["file"], "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()

    def tensor(name):
        h = header[name]
        assert h["dtype"] == "F32", h["dtype"]
        a, b = h["data_offsets"]
        return np.frombuffer(data, dtype="<f4", offset=a, count=(b - a) // 4).reshape(h["shape"])

    banks = [(np.stack([tensor(m).reshape(-1) for m in b["members"]]).astype(np.float64), b["shape"], b["n"]) for b in job["banks"]]
    t0 = time.perf_counter()
    fit = 0.0
    for x, shape, n in banks:
        t = time.perf_counter()
        _, s, vt = np.linalg.svd(x, full_matrices=False)
        fit += time.perf_counter() - t
        for i in range(min(n, len(s))):
            np.linalg.svd(vt[i].reshape(shape[0], -1), compute_uv=False)
    total = time.perf_counter() - t0
    print(json.dumps({"seconds": total, "fitSeconds": fit, "numpy": np.__version__}))


main()
