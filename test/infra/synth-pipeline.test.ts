import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SETTING_VARIABLES } from '../../functions/shared/config/plain-config.ts';
import { STATE_MACHINE_METADATA_KEY } from '../../infra/constructs/generation-state-machine.ts';
import { HANDLER_MODULE_METADATA_KEY } from '../../infra/constructs/pipeline-function.ts';
import type { CfnTemplate } from '../../infra/local/cfn-template.ts';
import { lambdaArn } from '../../infra/local/local-ids.ts';
import {
  type LocalFunctionSpec,
  localFunctions,
  localResolver,
} from '../../infra/local/local-resources.ts';
import {
  forEachState,
  type LocalStateMachine,
  stateMachinesFromTemplate,
} from '../../infra/local/state-machine-definition.ts';
import { HANDLER_MODULES } from '../../infra/stacks/pipeline-stack.ts';
import {
  PROJECT_ROOT,
  projectContext,
  type SynthesizedPipeline,
  synthesizePipeline,
} from '../../infra/synth-pipeline.ts';
import { TEST_PROVIDER_CONTEXT } from './synthesized-pipeline.ts';

let synthesized: SynthesizedPipeline;
let generationMachines: LocalStateMachine[];
let functions: Map<string, LocalFunctionSpec>;

beforeAll(() => {
  synthesized = synthesizePipeline({ context: TEST_PROVIDER_CONTEXT });
  const pipeline = synthesized.templates.pipeline;
  const resolver = localResolver(pipeline, synthesized.stacks);
  generationMachines = stateMachinesFromTemplate(pipeline, resolver).filter(
    ({ logicalId }) =>
      pipeline.Resources[logicalId]?.Metadata?.[STATE_MACHINE_METADATA_KEY] === 'generation',
  );
  functions = localFunctions(pipeline, resolver, HANDLER_MODULE_METADATA_KEY);
});

/** Task state name -> the function it invokes, by the local ARN in its definition. */
function taskFunctions(machine: LocalStateMachine): Record<string, LocalFunctionSpec | undefined> {
  const byArn = new Map([...functions.values()].map((fn) => [lambdaArn(fn.logicalId), fn]));
  const tasks: Record<string, LocalFunctionSpec | undefined> = {};
  forEachState(machine.definition, (name, state) => {
    if (state.Type !== 'Task') return;
    const parameters = state.Parameters as Record<string, unknown> | undefined;
    const target = parameters?.FunctionName ?? state.Resource;
    tasks[name] = typeof target === 'string' ? byArn.get(target) : undefined;
  });
  return tasks;
}

describe('synthesizePipeline (what the local stack runs)', () => {
  it('marks exactly one state machine of the pipeline template as the generation machine', () => {
    expect(generationMachines.map(({ logicalId }) => logicalId)).toEqual([
      expect.stringMatching(/^GenerationStateMachine/),
    ]);
  });

  it('maps every Task state to a known function and the handler module it invokes', () => {
    const [generation] = generationMachines;
    if (!generation) throw new Error('no generation state machine');

    const modules = Object.fromEntries(
      Object.entries(taskFunctions(generation)).map(([state, fn]) => [state, fn?.handlerModule]),
    );

    expect(modules).toEqual({
      AdmitJob: HANDLER_MODULES.admitJob,
      CreateProviderJob: HANDLER_MODULES.createProviderJob,
      PollProviderJob: HANDLER_MODULES.pollProviderJob,
      DownloadVideo: HANDLER_MODULES.downloadVideo,
      RecordFailure: HANDLER_MODULES.recordFailure,
    });
  });

  it('maps the logical id of every pipeline function to its existing handler module', () => {
    const modules = [...functions.values()].map((fn) => fn.handlerModule);

    expect(modules.sort()).toEqual(Object.values(HANDLER_MODULES).sort());
    for (const module of modules) expect(existsSync(path.join(PROJECT_ROOT, module))).toBe(true);
  });

  it('resolves the definition to plain ASL naming each function by a local ARN', () => {
    const [generation] = generationMachines;
    if (!generation) throw new Error('no generation state machine');
    const createTask = taskFunctions(generation).CreateProviderJob;

    expect(JSON.stringify(generation.definition)).not.toMatch(/Fn::|"Ref"/);
    expect(createTask?.logicalId).toMatch(/^CreateProviderJobFunction/);
    expect(generation.definition.States.CreateProviderJob).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: {
        FunctionName: `arn:aws:lambda:us-east-1:000000000000:function:${createTask?.logicalId}`,
      },
    });
  });

  it('returns the templates of both stacks from the same assembly, also by stack name', () => {
    const names = synthesized.assembly.stacks.map((stack) => stack.stackName).sort();

    expect(names).toEqual(['SoraPipeline', 'SoraPipelineStateful']);
    expect(synthesized.stacks).toEqual({
      SoraPipeline: synthesized.templates.pipeline,
      SoraPipelineStateful: synthesized.templates.stateful,
    });
  });

  it('puts a table prefix (stacks sharing one DynamoDB) before the table name every function imports', () => {
    const { pipeline, stateful } = synthesized.templates;
    const tableNames = (names: { tablePrefix?: string }) =>
      new Set(
        [
          ...localFunctions(
            pipeline,
            localResolver(pipeline, synthesized.stacks, names),
            HANDLER_MODULE_METADATA_KEY,
          ).values(),
        ]
          .map((fn) => fn.environment[SETTING_VARIABLES.jobsTableName])
          .filter((name) => name !== undefined),
      );
    const [tableId = ''] = Object.keys(stateful.Resources).filter(
      (id) => stateful.Resources[id]?.Type === 'AWS::DynamoDB::Table',
    );
    const plain = localResolver(stateful, synthesized.stacks).ref(tableId);

    expect(tableNames({})).toEqual(new Set([plain]));
    expect(tableNames({ tablePrefix: 'stack-0a1b2c3d-' })).toEqual(
      new Set([`stack-0a1b2c3d-${plain}`]),
    );
  });

  it('synthesizes with the feature flags of cdk.json', () => {
    expect(projectContext()).toMatchObject({
      '@aws-cdk/aws-lambda:useCdkManagedLogGroup': true,
      '@aws-cdk/aws-s3:publicAccessBlockedByDefault': true,
    });
  });
});

describe('the template reader refuses what it cannot run faithfully', () => {
  it('an intrinsic function it does not know, by name', () => {
    const template: CfnTemplate = {
      Resources: {
        Machine: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: {
            DefinitionString: { 'Fn::Join': ['', ['{"StartAt":"', { 'Fn::Base64': 'x' }, '"}']] },
          },
        },
      },
    };

    expect(() => stateMachinesFromTemplate(template, localResolver(template))).toThrow(
      /Fn::Base64/,
    );
  });
});
