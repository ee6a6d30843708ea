// CDK entry point (cdk.json "app"): `npx cdk synth`, `npx cdk deploy --all`.
// `-c bundle=false` skips esbuild bundling (inline stub code: for inspecting templates only).
import { App } from 'aws-cdk-lib';
import { buildPipeline } from './synth-pipeline.ts';

const app = new App();
const bundle = String(app.node.tryGetContext('bundle') ?? true) !== 'false';
buildPipeline(app, { bundle, nag: true });
app.synth();
