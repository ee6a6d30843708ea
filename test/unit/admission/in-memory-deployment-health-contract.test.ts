import { deploymentHealthContract } from '../../support/deployment-health-contract.ts';
import { InMemoryDeploymentHealth } from '../../support/in-memory-deployment-health.ts';

// The fake the unit tests route with, held to the contract DynamoDeploymentHealth passes on
// DynamoDB Local (test/integration/deployment-health.test.ts).
deploymentHealthContract('in memory', async () => new InMemoryDeploymentHealth());
