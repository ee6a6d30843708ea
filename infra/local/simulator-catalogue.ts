import {
  bedrockModelCatalogue,
  defaultModelCatalogue,
} from '../../functions/shared/provider/provider-config.ts';

/**
 * The catalogue of a stack on the simulator (PROVIDER_MODELS form): the simulator serves Bedrock
 * too, so Luma Ray2 is offered beside sora-2 and sora-2-pro, out of the box. A module of its own:
 * `generate` checks a request against it before it loads (and starts) a stack.
 */
export function simulatorCatalogue(): string {
  return JSON.stringify({ ...defaultModelCatalogue(), ...bedrockModelCatalogue() });
}
