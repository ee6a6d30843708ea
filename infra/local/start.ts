// `npm start [-- --port 4000] [--speed 10] [--fresh] ...`: the whole pipeline on this machine until
// Ctrl-C (start-command.ts; infra/local/README.md). This entry turns Node's compile cache on before
// it loads the command, as generate.ts does.
import { exitWithError } from './cli-output.ts';
import { useCompileCache } from './compile-cache.ts';

useCompileCache();
const { COMMAND, main } = await import('./start-command.ts');
main().catch((error: unknown) => exitWithError(COMMAND, error));
