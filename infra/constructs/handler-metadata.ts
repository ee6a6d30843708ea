/**
 * Template metadata key naming a function's entry module (project-relative). The local stack
 * reads it to map each Lambda logical id to the handler it runs in-process; kept apart from
 * pipeline-function.ts so the local stack reads a cached template without loading aws-cdk-lib.
 */
export const HANDLER_MODULE_METADATA_KEY = 'sora-pipeline:handler-module';
