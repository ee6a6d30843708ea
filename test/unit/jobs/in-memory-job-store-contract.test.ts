import { InMemoryJobStore } from '../../support/in-memory-job-store.ts';
import { jobStoreContract } from '../../support/job-store-contract.ts';

// The fake the unit tests use, held to the contract DynamoJobStore passes on DynamoDB Local
// (test/integration/job-store.test.ts).
jobStoreContract('in memory', async () => new InMemoryJobStore());
