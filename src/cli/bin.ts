// The `mimicry` executable (dist/cli.js): runs the CLI bundle beside it (dist/cliMain.js) through
// V8's code cache (io/codeCache.ts), written when the run is over so that it holds what the run compiled.
import * as path from 'node:path';
import { loadBundle } from '../mimicry/io/codeCache';

type Main = { main(): void };

const cli = loadBundle(path.join(__dirname, 'cliMain.js'));
process.once('exit', () => cli.save());
(cli.exports as Main).main();
