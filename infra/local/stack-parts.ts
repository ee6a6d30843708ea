/**
 * The modules the local stack's services run, loaded in one `import()` by local-stack.ts while
 * DynamoDB Local's JVM boots: imported up front they would delay its start by the time they take
 * to load (the AWS SDK, zod, the API's routes and the simulator: several hundred ms).
 */
export { DynamoDBClient } from '@aws-sdk/client-dynamodb';
export { openApiDocument } from '../../functions/api/openapi.ts';
export { DROP_FOLDERS } from '../../functions/shared/intake/drop-folder.ts';
export { clientRateConfigFromEnv } from '../../functions/shared/limits/client-rate-config.ts';
export { limitsConfigFromEnv } from '../../functions/shared/limits/limits-config.ts';
export { consoleConfigDocument } from '../console/console-config.ts';
export { CLIENT_RATE_CONTEXT_KEYS } from '../stacks/limits-settings.ts';
export { startConsoleServer } from './console-server.ts';
export { httpApiFromTemplate } from './http-api-routes.ts';
export { InProcessLambdas } from './in-process-lambdas.ts';
export { startLocalApiGateway } from './local-api-gateway.ts';
export { localApiTokens, localWebhookSigningSecret } from './local-api-tokens.ts';
export { startLocalAwsEndpoint } from './local-aws-endpoint.ts';
export { checkCapsWithin } from './local-client-settings.ts';
export { localProviderKeys } from './local-deployment-keys.ts';
export { LocalEventBus } from './local-event-bus.ts';
export { LocalEventSources } from './local-event-sources.ts';
export { localFunctions, localResolver } from './local-resources.ts';
export { LocalSecrets } from './local-secrets.ts';
export { LocalStepFunctions } from './local-step-functions.ts';
export { createLocalTable, deleteLocalTable, tableFromTemplate } from './local-tables.ts';
export { bucketNotificationsFromTemplate, schedulesFromTemplate } from './local-triggers.ts';
export { startS3Local } from './s3-local.ts';
export { simulatedDeployment, startSimulatorPool } from './simulator/pool.ts';
export { startSimulator } from './simulator/simulator.ts';
export { catalogueOnPool, simulatorCatalogue } from './simulator-catalogue.ts';
export { stateMachinesFromTemplate } from './state-machine-definition.ts';
export { createStateMachineRunner, validateStateMachine } from './state-machine-runner.ts';
