// CDK entry point (cdk.json "app"): `npx cdk synth`, `npx cdk deploy --all`. It turns Node's
// compile cache on before it loads the app (cdk-app.ts): aws-cdk-lib is large, and a run that
// stops at a bad -c value took 1.5 CPU-seconds uncached, 1.0 cached.
import { useCompileCache } from './local/compile-cache.ts';

useCompileCache();
await import('./cdk-app.ts');
