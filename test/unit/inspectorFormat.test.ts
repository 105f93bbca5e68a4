import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatCount, formatInteger, formatNumber, formatPercent, formatShape } from '../../src/webview/shared/format';

test('formatBytes uses binary units', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(12.5 * 1024 * 1024), '12.5 MiB');
  assert.equal(formatBytes(500 * 1024 ** 3), '500 GiB');
  assert.equal(formatBytes(-1), '—');
});

test('formatCount abbreviates large counts', () => {
  assert.equal(formatCount(9999), '9,999');
  assert.equal(formatCount(124_439_808), '124M');
  assert.equal(formatCount(3_002_368), '3.0M');
  assert.equal(formatCount(7_000_000_000), '7.0B');
  assert.equal(formatInteger(1234567), '1,234,567');
});

test('formatShape and formatNumber', () => {
  assert.equal(formatShape([]), 'scalar');
  assert.equal(formatShape([768, 3, 16, 16]), '768 × 3 × 16 × 16');
  assert.equal(formatNumber(null), '—');
  assert.equal(formatNumber(0), '0');
  assert.equal(formatNumber(0.0123456), '0.01235');
  assert.equal(formatNumber(-9.985e-5), '-9.985e-5');
  assert.equal(formatNumber(123456), '1.235e5');
  assert.equal(formatNumber(Number.NaN), 'NaN');
  assert.equal(formatNumber(-Infinity), '−Inf');
  assert.equal(formatPercent(0.1234), '12.34%');
  assert.equal(formatPercent(null), '—');
});
