import { describe, expect, it } from 'vitest';
import { estimateCostUsd as consoleEstimate } from '../../../console/src/console-config.ts';
import {
  defaultModelCatalogue,
  estimateCostUsd,
  providerConfigFromEnv,
} from '../../../functions/shared/provider/provider-config.ts';

describe("the console's cost estimate", () => {
  it('is the estimate the API records, for every model, size and duration of the catalogue', () => {
    const config = providerConfigFromEnv({ PROVIDER_BASE_URL: 'http://127.0.0.1:4010/v1' }, 'k');
    let compared = 0;
    for (const [model, spec] of Object.entries(defaultModelCatalogue())) {
      for (const size of spec.sizes) {
        for (const seconds of spec.seconds) {
          expect(consoleEstimate(spec, size, seconds), `${model} ${size} ${seconds}`).toBe(
            estimateCostUsd(config, { model, size, seconds }),
          );
          compared += 1;
        }
      }
    }
    expect(compared).toBeGreaterThan(20);
  });
});
