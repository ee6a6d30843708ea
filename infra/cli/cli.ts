#!/usr/bin/env node
// `npm run cli -- <command>` (or the `sora-pipeline` bin): the HTTP API from a terminal, against
// the running local stack or a deployed API (SORA_API_URL + SORA_API_TOKEN). The commands are in
// commands.ts, loaded once Node's compile cache is on: `--help` then takes 0.25 s and 0.28
// CPU-seconds instead of 0.36 s and 0.45, which scripts calling the CLI in a loop feel.
import { useCompileCache } from '../local/compile-cache.ts';

useCompileCache();
await import('./commands.ts');
