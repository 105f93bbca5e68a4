// Entry point of `npm run bench`: the paper loop at the authors' 1000 steps (minutes on wasm);
// --quick cuts it to 100 steps for development and says so in the output.
import { benchRecast } from './recast.bench';

benchRecast(process.argv.includes('--quick')).catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
