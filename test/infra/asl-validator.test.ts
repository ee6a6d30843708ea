import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { localResolver } from '../../infra/local/local-resources.ts';
import {
  type AslDefinition,
  stateMachinesFromTemplate,
} from '../../infra/local/state-machine-definition.ts';
import { synthesizePipeline } from '../../infra/synth-pipeline.ts';
import { TEST_PROVIDER_CONTEXT } from './synthesized-pipeline.ts';

interface AslValidationResult {
  isValid: boolean;
  errorsText: (separator?: string) => string;
}
type AslValidator = (
  definition: unknown,
  options?: { checkPaths: boolean; checkArn: boolean },
) => AslValidationResult;

// asl-validator (npm) ships CommonJS without types.
const validate = createRequire(import.meta.url)('asl-validator') as AslValidator;

/** Every state machine of the pipeline as deployed, by logical id, with every ARN resolved. */
function synthesizedDefinitions(): [string, AslDefinition][] {
  const { templates, stacks } = synthesizePipeline({ context: TEST_PROVIDER_CONTEXT });
  const machines = stateMachinesFromTemplate(
    templates.pipeline,
    localResolver(templates.pipeline, stacks),
  );
  return machines.map((machine) => [machine.logicalId, machine.definition]);
}

const definitions = synthesizedDefinitions();

describe('the synthesized state machines', () => {
  it('include the generation state machine', () => {
    expect(definitions.map(([id]) => id)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^GenerationStateMachine/)]),
    );
  });

  it.each(definitions)(
    '%s is valid Amazon States Language (asl-validator, paths and ARNs checked)',
    (_id, definition) => {
      // The validator adds fields to what it checks: give it a copy.
      const result = validate(structuredClone(definition), { checkPaths: true, checkArn: true });

      expect(result.errorsText('\n')).toBe('');
      expect(result.isValid).toBe(true);
    },
  );

  it('would report a transition to no state (the check is live)', () => {
    const definition = definitions[0]?.[1];
    if (definition === undefined) throw new Error('no state machine');
    const broken = structuredClone(definition);
    broken.StartAt = 'NoSuchState';

    expect(validate(broken, { checkPaths: true, checkArn: true }).isValid).toBe(false);
  });
});
