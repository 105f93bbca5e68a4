// The VS Code settings' defaults in package.json are the engine's defaults, not copies that drift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEFAULT_SPECTRUM_MAX_SIDE } from '../../src/mimicry/stats/spectrum';
import { DEFAULT_BINS } from '../../src/mimicry/stats/tensorStats';

interface Manifest {
  contributes: { configuration: { properties: Record<string, { default?: unknown }> } };
}

const settings = (JSON.parse(readFileSync('package.json', 'utf8')) as Manifest).contributes.configuration.properties;

test('mimicry.inspector.spectrumMaxDim defaults to the engine spectrum size limit', () => {
  assert.equal(settings['mimicry.inspector.spectrumMaxDim']?.default, DEFAULT_SPECTRUM_MAX_SIDE);
});

test('mimicry.inspector.histogramBins defaults to the engine histogram bins', () => {
  assert.equal(settings['mimicry.inspector.histogramBins']?.default, DEFAULT_BINS);
});
