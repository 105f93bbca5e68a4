// The README's list of error rules is complete: every rule an error can carry (the engine's error
// families and the CLI's file system rules) has a row, and no row names a rule that does not exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SAFETENSORS_RULE_TEXT } from '../../src/mimicry/safetensors/errors';
import { BACKEND_TEXT, RECAST_FORMAT_TEXT, RECONSTRUCT_TEXT } from '../../src/mimicry/recast/errors';
import { ERRNO, OTHER_ERRNO } from '../../src/cli/io';
import { FAMILY_TEXT } from '../../src/mimicry/family/errors';

test('README "Error rules" lists every rule, each with its meaning', () => {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf('### Error rules');
  assert.ok(start >= 0, 'README has an "Error rules" section');
  const section = readme.slice(start, readme.indexOf('\n## ', start));
  const rows = new Map([...section.matchAll(/^\| `([a-z0-9-]+)` \| (.+) \|$/gm)].map((m) => [m[1], m[2]]));
  const known = new Map<string, string>();
  for (const texts of [SAFETENSORS_RULE_TEXT, RECONSTRUCT_TEXT, RECAST_FORMAT_TEXT, BACKEND_TEXT, FAMILY_TEXT]) {
    for (const [rule, text] of Object.entries(texts)) known.set(rule, text);
  }
  for (const { rule, text } of [...Object.values(ERRNO), OTHER_ERRNO]) if (!known.has(rule)) known.set(rule, text);
  assert.deepEqual([...rows.keys()].sort(), [...known.keys()].sort());
  for (const [rule, text] of known)
    assert.ok(rows.get(rule)?.startsWith(text.replace(/\|/g, '\\|')), `${rule}: "${rows.get(rule)}" starts with "${text}"`);
});
