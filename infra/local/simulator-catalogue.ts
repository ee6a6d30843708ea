import {
  bedrockModelCatalogue,
  defaultModelCatalogue,
} from '../../functions/shared/provider/provider-config.ts';
import type { SimulatedDeployment } from './simulator/pool.ts';

/**
 * The catalogue of a stack on the simulator (PROVIDER_MODELS form): the simulator serves Bedrock
 * too, so Luma Ray2 is offered beside sora-2 and sora-2-pro, out of the box. A module of its own:
 * `generate` checks a request against it before it loads (and starts) a stack.
 */
export function simulatorCatalogue(): string {
  return JSON.stringify({ ...defaultModelCatalogue(), ...bedrockModelCatalogue() });
}

/**
 * A catalogue (PROVIDER_MODELS form) whose /v1/videos models are each served by every simulated
 * deployment of a pool. Bedrock models keep their single endpoint (a pool is a /v1/videos
 * notion), and a model that lists deployments of its own keeps them.
 */
export function catalogueOnPool(catalogue: string, deployments: SimulatedDeployment[]): string {
  const models = JSON.parse(catalogue) as Record<string, Record<string, unknown>>;
  return JSON.stringify(
    Object.fromEntries(
      Object.entries(models).map(([id, spec]) => [
        id,
        spec.provider === 'bedrock' || spec.deployments !== undefined
          ? spec
          : { ...spec, deployments },
      ]),
    ),
  );
}
