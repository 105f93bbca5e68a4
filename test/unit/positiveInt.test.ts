// The one positive-integer check that options, settings, CLI flags, form fields and file metadata share.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPositiveInt, parsePositiveInt } from '../../src/mimicry/positiveInt';

test('isPositiveInt: integers from 1 up to 2^53 - 1, nothing else', () => {
  for (const v of [1, 2, 64, Number.MAX_SAFE_INTEGER]) assert.equal(isPositiveInt(v), true, String(v));
  for (const v of [0, -1, 1.5, Number.NaN, Infinity, 2 ** 53, '3', null, undefined, [2]]) assert.equal(isPositiveInt(v), false, String(v));
});

test('parsePositiveInt: decimal digits only, spaces around allowed', () => {
  assert.equal(parsePositiveInt('12'), 12);
  assert.equal(parsePositiveInt(' 7 '), 7);
  assert.equal(parsePositiveInt('007'), 7);
  for (const t of ['', '0', '00', '-1', '+12', '1.0', '1e3', '0x10', '12abc', '9007199254740993'])
    assert.equal(parsePositiveInt(t), undefined, t);
});
