// `npm run generate -- "A cat playing piano" [--model ..] [--seconds ..] [--size ..] [--priority ..]`:
// one video through the local pipeline (generate-command.ts; infra/local/README.md). This entry
// turns Node's compile cache on before it loads the command: static imports are all loaded before
// a module's body runs, so the command's own were read uncached (`--help`: 0.34 s and 0.48
// CPU-seconds before, 0.29 s and 0.31 now).
import { exitWithError } from './cli-output.ts';
import { useCompileCache } from './compile-cache.ts';

useCompileCache();
const { COMMAND, main } = await import('./generate-command.ts');
main().catch((error: unknown) => exitWithError(COMMAND, error));
