// Registers the aws-sdk-client-mock matchers (toHaveReceivedCommandWith, ...) for every suite.
import 'aws-sdk-client-mock-vitest/extend';
