// Mutation fuzzing of the real fixtures: bit flips in the 8-byte header length and in the JSON
// header, structural characters written into the JSON, truncations, appended bytes and flips in
// the data area, with a fixed seed and a bounded count. Every mutant goes through the CLI as a user
// would run it (`inspect --json --stats`, and `reconstruct` for some); each run must answer with
// exit 0 (the mutant is still a valid file) or exit 2 and exactly one line that names the file and
// the rule; nothing may be written next to it, the mutant and the sources stay unchanged, and a run
// that does not answer within the limit fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main';
import { REAL, REAL_TENSOR_COUNTS } from './helpers/real-fixtures';
import { rng } from './helpers/rng';
import { inTempDir } from './helpers/temp-dir';

const SEED = 20261201;
const MUTANTS_PER_FIXTURE = 120;
/** Every few mutants also go through a reconstruction (slower: it fits and writes). */
const RECONSTRUCT_EVERY = 8;
const RUN_LIMIT_MS = 20_000;
const STRUCTURAL = '{}[]",:0-e'.split('');

type Mutation = (bytes: Uint8Array, random: () => number) => { bytes: Uint8Array; what: string };

const headerLength = (b: Uint8Array): number => Number(Buffer.from(b).readBigUInt64LE(0));
const pick = (random: () => number, n: number): number => Math.floor(random() * n);

const MUTATIONS: readonly Mutation[] = [
  (b, r) => {
    const out = b.slice();
    const bit = pick(r, 64);
    out[bit >> 3] ^= 1 << (bit & 7);
    return { bytes: out, what: `length bit ${bit} flipped` };
  },
  (b, r) => {
    const out = b.slice();
    const at = 8 + pick(r, headerLength(b));
    out[at] ^= 1 << pick(r, 8);
    return { bytes: out, what: `header byte ${at} flipped` };
  },
  (b, r) => {
    const out = b.slice();
    const at = 8 + pick(r, headerLength(b));
    const c = STRUCTURAL[pick(r, STRUCTURAL.length)];
    out[at] = c.charCodeAt(0);
    return { bytes: out, what: `header byte ${at} set to ${c}` };
  },
  (b, r) => {
    const at = pick(r, b.length);
    return { bytes: b.slice(0, at), what: `truncated to ${at} bytes` };
  },
  (b, r) => {
    const at = 8 + pick(r, headerLength(b));
    return { bytes: b.slice(0, at), what: `truncated inside the header at ${at}` };
  },
  (b, r) => {
    const extra = Uint8Array.from({ length: 1 + pick(r, 64) }, () => pick(r, 256));
    return { bytes: Buffer.concat([b, extra]), what: `${extra.length} bytes appended` };
  },
  (b, r) => {
    const out = b.slice();
    const start = 8 + headerLength(b);
    const at = start + pick(r, Math.max(1, b.length - start));
    if (at < out.length) out[at] ^= 1 << pick(r, 8);
    return { bytes: out, what: `data byte ${at} flipped` };
  },
];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const run = runCli(args, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`mimicry ${args.join(' ')}: no answer within ${RUN_LIMIT_MS / 1000} s`)), RUN_LIMIT_MS);
  });
  try {
    return { code: await Promise.race([run, limit]), stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The contract for a bad file: exit 2, one line on stderr naming the file and the rule. */
function assertAnswer(r: Run, file: string, context: string): void {
  assert.ok(r.code === 0 || r.code === 2, `${context}: exit ${r.code}: ${r.stderr}`);
  if (r.code === 0) return;
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  assert.equal(lines.length, 1, `${context}: one line, got ${JSON.stringify(r.stderr)}`);
  assert.ok(lines[0].includes(file), `${context}: the line names the file: ${lines[0]}`);
  assert.match(lines[0], /\(rule: [a-z0-9-]+\)$/, `${context}: the line names the rule`);
}

test(`mutants of every real fixture: exit 0 or exit 2 with one line naming the file and the rule (seed ${SEED})`, async () => {
  const random = rng(SEED);
  const fixtures = Object.keys(REAL_TENSOR_COUNTS);
  const before = fixtures.map((f) => sha(readFileSync(join(REAL, f))));
  const outcomes = { valid: 0, refused: 0 };
  await inTempDir(async (dir) => {
    let n = 0;
    for (const fixture of fixtures) {
      const original = new Uint8Array(readFileSync(join(REAL, fixture)));
      for (let i = 0; i < MUTANTS_PER_FIXTURE; i++, n++) {
        const { bytes, what } = MUTATIONS[pick(random, MUTATIONS.length)](original, random);
        const file = join(dir, `m${n}.safetensors`);
        writeFileSync(file, bytes);
        const context = `${fixture}, ${what}`;
        const inspected = await cli(['inspect', file, '--json', '--stats']);
        assertAnswer(inspected, file, `inspect ${context}`);
        if (inspected.code === 0) assert.doesNotThrow(() => JSON.parse(inspected.stdout), `inspect ${context}: JSON on stdout`);
        outcomes[inspected.code === 0 ? 'valid' : 'refused']++;
        if (n % RECONSTRUCT_EVERY === 0) {
          const out = join(dir, `m${n}.recast.safetensors`);
          const rebuilt = await cli(['reconstruct', file, '--out', out]);
          assertAnswer(rebuilt, file, `reconstruct ${context}`);
          if (rebuilt.code !== 0) assert.ok(!readdirSync(dir).includes(`m${n}.recast.safetensors`), `reconstruct ${context}: no output`);
        }
        assert.equal(sha(readFileSync(file)), sha(bytes), `${context}: the mutant is unchanged`);
        // Nothing but mutants and finished exports next to them: no temporary files.
        const stray = readdirSync(dir).filter((f) => !/^m\d+(\.recast)?\.safetensors$/.test(f));
        assert.deepEqual(stray, [], `${context}: nothing else written`);
      }
    }
  });
  assert.deepEqual(
    fixtures.map((f) => sha(readFileSync(join(REAL, f)))),
    before,
    'the fixtures are unchanged',
  );
  // Both outcomes occur: the mutations are neither all harmless nor all fatal.
  assert.ok(outcomes.valid > 0 && outcomes.refused > 0, JSON.stringify(outcomes));
});

test(`mutants of a reparameterized (recast) file: metrics and rebuild answer exit 0 or exit 2 with one line (seed ${SEED})`, async () => {
  const random = rng(SEED + 1);
  await inTempDir(async (dir) => {
    const recast = join(dir, 'gpt2.recast.safetensors');
    assert.equal((await cli(['reconstruct', join(REAL, 'capp-gpt2-4layer.safetensors'), '--out', recast])).code, 0);
    const original = new Uint8Array(readFileSync(recast));
    for (let n = 0; n < MUTANTS_PER_FIXTURE; n++) {
      const { bytes, what } = MUTATIONS[pick(random, MUTATIONS.length)](original, random);
      const file = join(dir, `m${n}.safetensors`);
      writeFileSync(file, bytes);
      const metrics = await cli(['metrics', file]);
      assertAnswer(metrics, file, `metrics, ${what}`);
      const out = join(dir, `m${n}.dense.safetensors`);
      const rebuilt = await cli(['rebuild', file, '--out', out]);
      assertAnswer(rebuilt, file, `rebuild, ${what}`);
      if (rebuilt.code !== 0) assert.ok(!readdirSync(dir).includes(`m${n}.dense.safetensors`), `rebuild, ${what}: no output`);
      assert.equal(sha(readFileSync(file)), sha(bytes), `${what}: the mutant is unchanged`);
      const stray = readdirSync(dir).filter((f) => !/^(m\d+(\.dense)?|gpt2\.recast)\.safetensors$/.test(f));
      assert.deepEqual(stray, [], `${what}: nothing else written`);
    }
  });
});
