import type { ProviderSettings } from '../shared/provider/provider-config.ts';

/** One model of the catalogue as GET /models shows it. */
export interface PublicModel {
  id: string;
  provider: string;
  sizes: string[];
  seconds: string[];
  defaultSize: string;
  defaultSeconds: string;
  pricePerSecondUsd: number;
  pricePerSecondUsdBySize?: Record<string, number>;
}

/** GET /models: what a client may ask for, and what it costs. */
export interface PublicModelCatalogue {
  defaultModel: string;
  models: PublicModel[];
}

/**
 * The provider catalogue a client may see: models, sizes, durations, defaults and prices. Fields
 * are picked one by one, never spread: the settings also hold where the provider lives (and, at
 * run time, may hold its key), which no client sees. A model's deployments are not shown, not
 * even their ids: their endpoints, limits and (locally) keys are the operator's, and a client
 * asks for a model, never a deployment; a job shows the deployment it was routed to.
 */
export function publicModelCatalogue(settings: ProviderSettings): PublicModelCatalogue {
  return {
    defaultModel: settings.defaultModel,
    models: Object.entries(settings.models).map(([id, spec]) => ({
      id,
      provider: spec.provider,
      sizes: [...spec.sizes],
      seconds: [...spec.seconds],
      defaultSize: spec.defaultSize,
      defaultSeconds: spec.defaultSeconds,
      pricePerSecondUsd: spec.pricePerSecondUsd,
      ...(spec.pricePerSecondUsdBySize === undefined
        ? {}
        : { pricePerSecondUsdBySize: { ...spec.pricePerSecondUsdBySize } }),
    })),
  };
}
