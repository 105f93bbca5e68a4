// Family section of `npm run bench` (issue 13): `mimicry family` on LoRA adapters. Targets: the four
// bundled GPT-2 adapters (test/fixtures/real/gpt2-lora-family) in <= 3 s, faster than numpy forming
// the dense updates (the naive route: what a script would do); LLaMA-7B-shaped adapters (q_proj and
// v_proj, 4096 x 4096, r = 16, 4 members x 32 layers; 8 layers with --quick, in memory) in <= 60 s.
// Printed beside each: numpy's factor route (stacked factor Grams through BLAS), the floor; numpy
// runs on one BLAS thread, as the engine does.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadFamily, type FamilyMember, type LoadedFamily } from '../src/mimicry/family/members';
import { analyzeFamily } from '../src/mimicry/family/analyze';
import type { FactorUpdate } from '../src/mimicry/family/updates';

const REAL = 'test/fixtures/real/gpt2-lora-family';
const REAL_MEMBERS = ['math', 'medical', 'shakespeare-cattn/checkpoint-1000', 'shakespeare-cattn/checkpoint-7500'].map((m) =>
  join(REAL, m),
);
const REAL_TARGET_S = 3;
const LLAMA_TARGET_S = 60;
const NUMPY_TIMEOUT_MS = 600_000;

async function best<T>(fn: () => Promise<T>, runs = 2): Promise<number> {
  let seconds = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await fn();
    seconds = Math.min(seconds, (performance.now() - t0) / 1000);
  }
  return seconds;
}

/** numpy on the real adapters: dense route (updates formed, Gram of vec(dW), SVD per layer) and factor route. */
const NUMPY_REAL = `
import json, sys, time, importlib.util
import numpy as np
spec = importlib.util.spec_from_file_location("l", "test/unit/recast-python-loader.py"); l = importlib.util.module_from_spec(spec); spec.loader.exec_module(l)
members = sys.argv[1:]
def factors(folder):
    cfg = json.load(open(folder + "/adapter_config.json")); _, t = l.read_safetensors(folder + "/adapter_model.safetensors")
    out = {}
    for name, (_, _, a) in t.items():
        if name.endswith(".lora_A.weight"):
            b = t[name.replace("lora_A", "lora_B")][2].astype(np.float64)
            out[name[len("base_model.model."):-len(".lora_A.weight")]] = (cfg["lora_alpha"] / cfg["r"] * b, a.astype(np.float64))
    return out
fs = [factors(m) for m in members]
shared = sorted(set.intersection(*[set(f) for f in fs]))
roles = {}
for name in shared: roles.setdefault(name.split(".", 3)[-1], []).append(name)
def best(fn, runs):
    t = []
    for _ in range(runs):
        t0 = time.perf_counter(); fn(); t.append(time.perf_counter() - t0)
    return min(t)
def dense():
    for names in roles.values():
        x = np.stack([(f[n][0] @ f[n][1]).T.ravel() for n in names for f in fs])
        g = x @ x.T
        for row in x: np.linalg.svd(row.reshape(768, -1), compute_uv=False)
        np.linalg.eigh(g / np.sqrt(np.outer(np.diag(g), np.diag(g))))
def factor():
    for names in roles.values():
        u = np.concatenate([f[n][0] for n in names for f in fs], axis=1); v = np.concatenate([f[n][1].T for n in names for f in fs], axis=1)
        uu = u.T @ u; vv = v.T @ v
        r = 8; L = uu.shape[0] // r
        g = (uu * vv).reshape(L, r, L, r).sum(axis=(1, 3))
        np.linalg.eigh(g / np.sqrt(np.outer(np.diag(g), np.diag(g))))
print(json.dumps({"dense": best(dense, 1), "factor": best(factor, 2)}))
`;

const NUMPY_LLAMA = `
import json, sys, time
import numpy as np
members, layers, r, side = map(int, sys.argv[1:])
rng = np.random.default_rng(0)
L = members * layers
u = rng.standard_normal((side, L * r)); v = rng.standard_normal((side, L * r))
t = []
for _ in range(2):
    t0 = time.perf_counter()
    for _bank in range(2):
        uu = u.T @ u; vv = v.T @ v
        g = (uu * vv).reshape(L, r, L, r).sum(axis=(1, 3))
        np.linalg.eigh(g / np.sqrt(np.outer(np.diag(g), np.diag(g))))
    t.append(time.perf_counter() - t0)
print(json.dumps({"factor": min(t)}))
`;

function numpy<T>(script: string, args: string[]): T | string {
  // One BLAS thread, as this engine uses one: a fair peer, and no oversubscription on a shared machine.
  const env = { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
  const r = spawnSync('python3', ['-c', script, ...args], { encoding: 'utf8', maxBuffer: 1 << 24, timeout: NUMPY_TIMEOUT_MS, env });
  if (r.signal) return `numpy stopped after ${NUMPY_TIMEOUT_MS / 1000} s (${r.signal})`;
  if (r.error || r.status !== 0) return `numpy not run (${r.error?.message ?? r.stderr.trim().split('\n').pop()})`;
  return JSON.parse(r.stdout) as T;
}

/** In-memory LLaMA-shaped adapter members: q_proj and v_proj of `layers` blocks, random factors of rank r. */
function llamaFamily(members: number, layers: number, r: number, side: number): LoadedFamily {
  let seed = 1;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296 - 0.5) * 0.02;
  const list: FamilyMember[] = [];
  for (let m = 0; m < members; m++) {
    const layerMap = new Map<string, { name: string; shape: number[]; update: FactorUpdate; params: number }>();
    for (let i = 0; i < layers; i++)
      for (const role of ['q_proj', 'v_proj']) {
        const name = `model.layers.${i}.self_attn.${role}`;
        const update: FactorUpdate = {
          kind: 'factors',
          rows: side,
          cols: side,
          rank: r,
          u: Float64Array.from({ length: side * r }, rand),
          v: Float64Array.from({ length: side * r }, rand),
        };
        layerMap.set(name, { name, shape: [side, side], update, params: 2 * side * r });
      }
    list.push({
      name: `task${m}`,
      path: `task${m}`,
      file: `task${m}/adapter_model.safetensors`,
      kind: 'peft-lora',
      step: null,
      run: null,
      baseModel: null,
      layers: layerMap,
      params: layers * 2 * 2 * side * r,
      bytes: layers * 2 * 2 * side * r * 4, // as F32 factors on disk (in memory here)
      ignored: [],
    });
  }
  return { members: list, base: null, close: () => Promise.resolve() };
}

const verdict = (ok: boolean, text: string) => console.log(`${ok ? 'PASS' : 'FAIL'}  ${text}`);

export async function benchFamily(quick: boolean): Promise<void> {
  const ours = await best(async () => {
    const family = await loadFamily(REAL_MEMBERS);
    try {
      await analyzeFamily(family, {});
    } finally {
      await family.close();
    }
  });
  const py = numpy<{ dense: number; factor: number }>(NUMPY_REAL, REAL_MEMBERS);
  console.log('real GPT-2 family (4 adapters, 12 shared c_attn layers, r = 8): read, diff, fit, leave-one-out, specialisation, PCA map');
  console.log(`  mimicry family        ${ours.toFixed(2)} s`);
  if (typeof py === 'string') console.log(`  ${py}`);
  else {
    console.log(`  numpy, dense updates  ${py.dense.toFixed(2)} s   (Gram of vec(dW), SVD of each dW: the naive peer)`);
    console.log(`  numpy, factor route   ${py.factor.toFixed(2)} s   (stacked factor Grams in BLAS, no spectra: the floor)`);
  }
  verdict(
    ours <= REAL_TARGET_S,
    `real family in ${ours.toFixed(2)} s, target <= ${REAL_TARGET_S} s${ours > REAL_TARGET_S ? ` (missed by ${(ours / REAL_TARGET_S).toFixed(1)}x)` : ''}`,
  );
  if (typeof py !== 'string') verdict(ours < py.dense, `faster than numpy's dense route: ${(py.dense / ours).toFixed(1)}x`);

  const layers = quick ? 8 : 32;
  const family = llamaFamily(4, layers, 16, 4096);
  const t = await best(() => analyzeFamily(family, {}), 1);
  const floor = numpy<{ factor: number }>(NUMPY_LLAMA, ['4', String(layers), '16', '4096']);
  console.log(
    `LLaMA-7B-shaped adapters: 4 members x ${layers} layers x (q_proj, v_proj) 4096 x 4096, r = 16${quick ? ' (--quick: 8 layers)' : ''}`,
  );
  console.log(`  mimicry family        ${t.toFixed(2)} s`);
  console.log(
    typeof floor === 'string'
      ? `  ${floor}`
      : `  numpy, factor route   ${floor.factor.toFixed(2)} s   (the two banks' stacked Grams in BLAS: the floor)`,
  );
  verdict(
    t <= LLAMA_TARGET_S,
    `7B-shaped family in ${t.toFixed(2)} s, target <= ${LLAMA_TARGET_S} s${t > LLAMA_TARGET_S ? ` (missed by ${(t / LLAMA_TARGET_S).toFixed(1)}x)` : ''}`,
  );
}
