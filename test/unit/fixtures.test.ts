import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';

test('real fixtures are bundled with the project', () => {
  const files = readdirSync('test/fixtures/real').filter((f) => f.endsWith('.safetensors'));
  assert.equal(files.length, 4);
});
