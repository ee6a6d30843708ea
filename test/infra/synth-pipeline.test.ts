import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { HANDLER_MODULES } from '../../infra/stacks/pipeline-stack.ts';
import {
  type CfnTemplate,
  extractPipelineDefinition,
  PROJECT_ROOT,
  projectContext,
  type SynthesizedPipeline,
  synthesizePipeline,
} from '../../infra/synth-pipeline.ts';
import { TEST_PROVIDER_CONTEXT } from './synthesized-pipeline.ts';

let synthesized: SynthesizedPipeline;

beforeAll(() => {
  synthesized = synthesizePipeline({ context: TEST_PROVIDER_CONTEXT });
});

describe('synthesizePipeline (what the local stack runs)', () => {
  it('maps every Task state to the handler module it invokes', () => {
    const modules = Object.fromEntries(
      Object.entries(synthesized.tasks).map(([state, task]) => [state, task.handlerModule]),
    );

    expect(modules).toEqual({
      CreateProviderJob: HANDLER_MODULES.createProviderJob,
      PollProviderJob: HANDLER_MODULES.pollProviderJob,
      DownloadVideo: HANDLER_MODULES.downloadVideo,
      RecordFailure: HANDLER_MODULES.recordFailure,
    });
  });

  it('maps the logical id of every pipeline function to its existing handler module', () => {
    const modules = Object.values(synthesized.functions).map((fn) => fn.handlerModule);

    expect(modules.sort()).toEqual(Object.values(HANDLER_MODULES).sort());
    for (const module of modules) expect(existsSync(path.join(PROJECT_ROOT, module))).toBe(true);
  });

  it('resolves the definition to plain ASL naming each function by a local ARN', () => {
    const text = JSON.stringify(synthesized.definition);
    const createTask = synthesized.tasks.CreateProviderJob;

    expect(text).not.toMatch(/Fn::|"Ref"/);
    expect(createTask?.functionArn).toBe(
      `arn:aws:lambda:us-east-1:000000000000:function:${createTask?.logicalId}`,
    );
    expect(synthesized.definition.States.CreateProviderJob).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: createTask?.functionArn },
    });
  });

  it('returns the templates of both stacks from the same assembly', () => {
    const names = synthesized.assembly.stacks.map((stack) => stack.stackName).sort();

    expect(names).toEqual(['SoraPipeline', 'SoraPipelineStateful']);
    expect(
      synthesized.templates.pipeline.Resources?.[synthesized.stateMachineLogicalId]?.Type,
    ).toBe('AWS::StepFunctions::StateMachine');
  });

  it('uses pseudo parameters of the caller’s choosing', () => {
    const extracted = extractPipelineDefinition(synthesized.templates.pipeline, {
      partition: 'aws',
      region: 'eu-west-1',
      accountId: '123456789012',
    });

    expect(extracted.tasks.PollProviderJob?.functionArn).toMatch(
      /^arn:aws:lambda:eu-west-1:123456789012:function:PollProviderJobFunction/,
    );
  });

  it('synthesizes with the feature flags of cdk.json', () => {
    expect(projectContext()).toMatchObject({
      '@aws-cdk/aws-lambda:useCdkManagedLogGroup': true,
      '@aws-cdk/aws-s3:publicAccessBlockedByDefault': true,
    });
  });
});

describe('extractPipelineDefinition refuses what it cannot run faithfully', () => {
  const machine = (definitionString: unknown): CfnTemplate => ({
    Resources: {
      Machine: {
        Type: 'AWS::StepFunctions::StateMachine',
        Properties: { DefinitionString: definitionString },
        Metadata: { 'sora-pipeline:state-machine': 'generation' },
      },
    },
  });

  it('a template without the generation state machine', () => {
    expect(() => extractPipelineDefinition({ Resources: {} })).toThrow(
      /one generation state machine.*found 0/,
    );
  });

  it('an intrinsic function it does not know', () => {
    const template = machine({ 'Fn::Join': ['', ['{"StartAt":"', { 'Fn::Base64': 'x' }, '"}']] });

    expect(() => extractPipelineDefinition(template)).toThrow(/Fn::Base64/);
  });

  it('a Task state that invokes no pipeline function', () => {
    const template = machine(
      JSON.stringify({
        StartAt: 'Elsewhere',
        States: {
          Elsewhere: {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke',
            Parameters: { FunctionName: 'arn:aws:lambda:us-east-1:1:function:Other' },
            End: true,
          },
        },
      }),
    );

    expect(() => extractPipelineDefinition(template)).toThrow(/Task state Elsewhere/);
  });
});
