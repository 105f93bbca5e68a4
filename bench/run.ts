// Entry point of `npm run bench`: the paper loop at the authors' 1000 steps (minutes on wasm);
// --quick cuts it to 100 steps for development and says so in the output; --memory-only runs the
// memory section alone (nothing written).
import { benchMemoryOnly } from './memory.bench';
import { benchRecast } from './recast.bench';

const quick = process.argv.includes('--quick');
(process.argv.includes('--memory-only') ? benchMemoryOnly(quick) : benchRecast(quick)).catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
