// Entry point of `npm run bench`: --quick for short optimizer runs, --long to add the authors'
// loop on the ViT-S shape (several minutes).
import { benchRecast } from './recast.bench';

benchRecast(process.argv.includes('--quick'), process.argv.includes('--long')).catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
