// What the tests fork: `child_process.fork('test/support/local-stack-child.ts', [options])`. It
// turns Node's compile cache on first, as npm start does, so that the stack's modules load
// compiled; the child itself is local-stack-child-process.ts.
import { useCompileCache } from '../../infra/local/compile-cache.ts';

export type {
  LocalStackChildMessage,
  LocalStackChildOptions,
} from './local-stack-child-process.ts';

useCompileCache();
await import('./local-stack-child-process.ts');
