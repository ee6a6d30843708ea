// CDK entry point (cdk.json "app"): `npx cdk synth`, `npx cdk deploy --all`.
// `-c bundle=false` skips esbuild bundling (inline stub code: for inspecting templates only).
import { App } from 'aws-cdk-lib';
import { buildPipeline } from './synth-pipeline.ts';

const app = new App();
const bundleContext: unknown = app.node.tryGetContext('bundle');
const bundle =
  bundleContext === undefined || !['false', false].includes(bundleContext as string | boolean);
buildPipeline(app, { bundle, nag: true });
app.synth();
