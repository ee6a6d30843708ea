// The CDK app, loaded by infra/app.ts (cdk.json "app") once the compile cache is on.
// `-c bundle=false` skips esbuild bundling (inline stub code: for inspecting templates only).
import { App } from 'aws-cdk-lib';
import { ContextError } from './stacks/context-value.ts';
import { buildPipeline } from './synth-pipeline.ts';

const app = new App();
const bundle = String(app.node.tryGetContext('bundle') ?? true) !== 'false';
try {
  buildPipeline(app, { bundle, nag: true });
} catch (error) {
  // A bad -c value or cdk.json entry: one line naming the key, not a stack trace.
  if (!(error instanceof ContextError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
app.synth();
