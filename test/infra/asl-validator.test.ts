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

/** The generation state machine as deployed: its definition with every ARN resolved. */
function synthesizedDefinition(): AslDefinition {
  const { templates, stacks } = synthesizePipeline({ context: TEST_PROVIDER_CONTEXT });
  const [machine, ...others] = stateMachinesFromTemplate(
    templates.pipeline,
    localResolver(templates.pipeline, stacks),
  );
  if (!machine || others.length > 0) throw new Error('expected one state machine');
  return machine.definition;
}

describe('the synthesized state machine', () => {
  it('is valid Amazon States Language (asl-validator, paths and ARNs checked)', () => {
    // The validator adds fields to what it checks: give it a copy.
    const result = validate(structuredClone(synthesizedDefinition()), {
      checkPaths: true,
      checkArn: true,
    });

    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('would be reported invalid with a transition to no state (the check is live)', () => {
    const broken = structuredClone(synthesizedDefinition());
    broken.StartAt = 'NoSuchState';

    expect(validate(broken, { checkPaths: true, checkArn: true }).isValid).toBe(false);
  });
});
