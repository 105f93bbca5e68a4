// Entry of dist/bundleLoader.js: starts a worker's own bundle (workerData.bundle, e.g.
// dist/inspectWorker.js) through V8's code cache (io/codeCache.ts): the inspector's worker answers
// its first `open` in about half the time. WorkerHost starts bundles through it when it is beside them.
// The cache is written shortly after the first request (the code that opening ran is compiled by then).
import { parentPort, workerData } from 'node:worker_threads';
import { loadBundle } from '../../io/codeCache';

/** After the first request, this long before the cache is written. */
const SAVE_AFTER_MS = 200;

const { bundle } = workerData as { bundle: string };
const loaded = loadBundle(bundle);
parentPort?.once('message', () => setTimeout(() => loaded.save(), SAVE_AFTER_MS).unref());
