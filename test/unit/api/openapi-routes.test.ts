import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApiHandler } from '../../../functions/api/api-handler.ts';
import { API_ROUTES, routeKey } from '../../../functions/api/api-routes.ts';
import { openApiDocument } from '../../../functions/api/openapi.ts';
import { newJobId } from '../../../functions/shared/jobs/job-id.ts';
import { readClientBudget, readUsage } from '../../../functions/shared/limits/usage-report.ts';
import { clientWebhookSecret } from '../../../functions/shared/webhooks/webhook-signing.ts';
import { createPipelineApp } from '../../../infra/synth-pipeline.ts';
import { httpApiEvent } from '../../support/http-api-event.ts';
import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { inMemoryCancelDeps, inMemoryUsageSources } from '../../support/in-memory-limits.ts';
import { testProviderConfig } from '../../support/provider-config-fixture.ts';
import { recordingLogger } from '../../support/recording-logger.ts';

/**
 * The document lists exactly the routes that exist: those API Gateway routes in the synthesized
 * CDK template (nothing else reaches the function in AWS), and for each documented path the
 * methods the handler's router serves; all three come from one route table (api-routes.ts).
 */

const document = openApiDocument();

/** `METHOD /path` of every documented operation. */
function documentedRoutes(): string[] {
  return Object.entries(document.paths)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
}

function handler() {
  return createApiHandler({
    store: new InMemoryJobStore(),
    cancel: inMemoryCancelDeps(new InMemoryJobStore()).deps,
    webhookSecret: async (client) => clientWebhookSecret('test-signing-secret', client),
    startExecution: async () => {},
    providerConfig: testProviderConfig(),
    clock: () => new Date(),
    newJobId,
    contentLink: async (key) => `https://videos.example.com/${key}`,
    usage: (day) => readUsage(inMemoryUsageSources(), day),
    clientBudget: (client, day) => readClientBudget(inMemoryUsageSources().budget, client, day),
    logger: recordingLogger().logger,
  });
}

/** A request path for a path template, with a well-formed id. */
const concretePath = (template: string) => template.replaceAll('{id}', newJobId());

describe('documented routes', () => {
  let templateRoutes: string[] = [];

  beforeAll(() => {
    process.env.JSII_DEPRECATED ??= 'quiet';
    const { pipeline } = createPipelineApp({
      bundle: false,
      context: { 'provider:baseUrl': 'https://videos.example.test/v1' },
    });
    const routes = Template.fromStack(pipeline).findResources('AWS::ApiGatewayV2::Route');
    templateRoutes = Object.values(routes)
      .map((route) => String(route.Properties?.RouteKey))
      .sort();
  });

  it('are exactly the routes of the HTTP API in the CDK template', () => {
    expect(templateRoutes.length).toBeGreaterThan(0);
    expect(documentedRoutes()).toEqual(templateRoutes);
  });

  it('are each served by the API router (no route_not_found, no method_not_allowed)', async () => {
    const api = handler();
    for (const route of documentedRoutes()) {
      const [method = '', template = ''] = route.split(' ');

      const response = await api(httpApiEvent({ method, path: concretePath(template) }));

      expect(response.body ?? '', route).not.toMatch(/route_not_found|method_not_allowed/);
    }
  });

  it('are exactly the routes of the route table the router dispatches on', () => {
    expect(documentedRoutes()).toEqual(API_ROUTES.map(routeKey).sort());
  });
});
