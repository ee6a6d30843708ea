import { describe, expect, it } from 'vitest';
import { definitionOf, synthesizeForTest } from './synthesized-pipeline.ts';

describe('the Lambda tasks of the generation state machine', () => {
  it("never time out before their function does (the function's own timeout governs)", () => {
    const { pipelineTemplate: template } = synthesizeForTest();
    const functions = template.findResources('AWS::Lambda::Function');
    const tasks = Object.entries(definitionOf(template).States).filter(
      ([, state]) => state.Type === 'Task',
    );

    expect(tasks.length).toBeGreaterThanOrEqual(4);
    for (const [name, state] of tasks) {
      const target = String((state.Parameters as { FunctionName?: unknown }).FunctionName);
      const fn = functions[target.replace(/^<|>$/g, '')];
      expect(fn, `${name} invokes ${target}`).toBeDefined();
      const functionTimeout = Number(fn?.Properties.Timeout);
      const taskTimeout = state.TimeoutSeconds as number | undefined;
      if (taskTimeout !== undefined)
        expect(taskTimeout, name).toBeGreaterThanOrEqual(functionTimeout);
    }
  });
});
