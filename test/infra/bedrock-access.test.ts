import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bedrockModelCatalogue,
  defaultModelCatalogue,
} from '../../functions/shared/provider/provider-config.ts';
import { HANDLER_MODULES, type PipelineFunctionName } from '../../infra/stacks/pipeline-stack.ts';
import { createPipelineApp } from '../../infra/synth-pipeline.ts';
import {
  functionLogicalId,
  synthesizeForTest,
  TEST_PROVIDER_CONTEXT,
} from './synthesized-pipeline.ts';

interface Statement {
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

const BOTH_PROVIDERS = {
  'provider:models': JSON.stringify({ ...defaultModelCatalogue(), ...bedrockModelCatalogue() }),
  'bedrock:region': 'us-west-2',
};

function statementsOf(template: Template, name: PipelineFunctionName): Statement[] {
  const id = functionLogicalId(template, HANDLER_MODULES[name]);
  const roleId =
    template.findResources('AWS::Lambda::Function')[id]?.Properties.Role['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) =>
      policy.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleId),
    )
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

const actions = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

/** The statements granting `action`, resources rendered as text (tokens as JSON). */
function grantsOf(template: Template, name: PipelineFunctionName, action: string) {
  return statementsOf(template, name)
    .filter((statement) => actions(statement).includes(action))
    .map((statement) => ({ ...statement, text: JSON.stringify(statement.Resource) }));
}

function environmentOf(template: Template, name: PipelineFunctionName): Record<string, unknown> {
  const id = functionLogicalId(template, HANDLER_MODULES[name]);
  return template.findResources('AWS::Lambda::Function')[id]?.Properties.Environment.Variables;
}

describe('a catalogue with Bedrock models', () => {
  let template: Template;
  beforeAll(() => {
    template = synthesizeForTest(BOTH_PROVIDERS).pipelineTemplate;
  });

  it('lets the create task invoke the catalogue foundation model only, in the chosen region', () => {
    const [grant, ...others] = grantsOf(template, 'createProviderJob', 'bedrock:InvokeModel');

    expect(others).toEqual([]);
    expect(grant?.text).toContain('bedrock:us-west-2::foundation-model/luma.ray-v2:0');
    expect(grant?.text).not.toContain('*');
  });

  it('scopes GetAsyncInvoke and ListAsyncInvokes to the account async-invoke ARNs', () => {
    const get = grantsOf(template, 'pollProviderJob', 'bedrock:GetAsyncInvoke');
    const list = grantsOf(template, 'createProviderJob', 'bedrock:ListAsyncInvokes');

    for (const grant of [...get, ...list]) {
      expect(grant.text).toMatch(/bedrock:us-west-2:.*AccountId.*:async-invoke\/\*/);
    }
    expect(get).toHaveLength(1);
    expect(list).toHaveLength(1);
    expect(grantsOf(template, 'downloadVideo', 'bedrock:GetAsyncInvoke')).toHaveLength(1);
  });

  it('grants Bedrock write into the output prefix, and the download read and delete there', () => {
    const [write] = grantsOf(template, 'createProviderJob', 's3:PutObject');
    const [collect] = grantsOf(template, 'downloadVideo', 's3:DeleteObject');
    const [list] = grantsOf(template, 'downloadVideo', 's3:ListBucket');

    expect(write?.text).toContain('/bedrock-output/*');
    expect(collect?.text).toContain('/bedrock-output/*');
    expect(actions(collect as Statement).sort()).toEqual(['s3:DeleteObject', 's3:GetObject']);
    expect(list?.Condition).toEqual({ StringLike: { 's3:prefix': 'bedrock-output/*' } });
  });

  it('grants no bedrock:* and no Bedrock action on a wildcard resource', () => {
    const all = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement as Statement[],
    );
    const bedrock = all.filter((statement) =>
      actions(statement).some((action) => action.startsWith('bedrock:')),
    );

    expect(bedrock.flatMap(actions).sort()).toEqual([
      'bedrock:GetAsyncInvoke',
      'bedrock:GetAsyncInvoke',
      'bedrock:InvokeModel',
      'bedrock:ListAsyncInvokes',
    ]);
    expect(bedrock.map((statement) => JSON.stringify(statement.Resource))).not.toContain('"*"');
  });

  it('tells the three tasks where Bedrock writes and in which region it runs', () => {
    for (const name of ['createProviderJob', 'pollProviderJob', 'downloadVideo'] as const) {
      expect(environmentOf(template, name)).toMatchObject({
        BEDROCK_OUTPUT_BUCKET: expect.anything(),
        BEDROCK_REGION: 'us-west-2',
      });
    }
    expect(environmentOf(template, 'recordFailure')?.BEDROCK_REGION).toBeUndefined();
  });

  it('leaves no unacknowledged cdk-nag finding', () => {
    const { app } = createPipelineApp({
      bundle: false,
      context: { ...TEST_PROVIDER_CONTEXT, ...BOTH_PROVIDERS },
    });
    app.synth();

    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(app);

    expect(report.violations.map((violation) => violation.ruleName)).toEqual([]);
  });
});

describe('a catalogue without Bedrock models', () => {
  it('grants no Bedrock action at all', () => {
    const { pipelineTemplate } = synthesizeForTest();
    const bedrock = Object.values(pipelineTemplate.findResources('AWS::IAM::Policy'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
      .flatMap(actions)
      .filter((action) => action.startsWith('bedrock:'));

    expect(bedrock).toEqual([]);
  });
});

describe('a catalogue of Bedrock models only', () => {
  it('needs no provider:baseUrl: no warning about the shut-down OpenAI default', () => {
    const { pipeline } = createPipelineApp({
      bundle: false,
      context: {
        'provider:models': JSON.stringify(bedrockModelCatalogue()),
        'provider:model': 'luma.ray-v2:0',
      },
    });

    const warnings = Annotations.fromStack(pipeline).findWarning(
      '*',
      Match.stringLikeRegexp('provider:baseUrl is not set'),
    );

    expect(warnings).toEqual([]);
  });
});
