import { now } from '../../functions/shared/clock.ts';
import { AwsApiError } from './aws-api-error.ts';
import { secretArn, secretNameFromArn } from './local-ids.ts';

export interface LocalSecret {
  name: string;
  arn: string;
  value: string;
  createdDate: Date;
}

/** Secrets Manager's GetSecretValue over an in-memory map; a secret is found by name or ARN. */
export class LocalSecrets {
  readonly #byName = new Map<string, LocalSecret>();

  /** Creates or replaces a secret and returns its ARN. */
  put(name: string, value: string): string {
    const arn = secretArn(name);
    this.#byName.set(name, { name, arn, value, createdDate: now() });
    return arn;
  }

  /** Creates or replaces the secret a handler will ask for by `id` (a local ARN or a name). */
  putById(id: string, value: string): string {
    return this.put(secretNameFromArn(id) ?? id, value);
  }

  getSecretValue(request: { SecretId?: string; VersionStage?: string; VersionId?: string }): {
    ARN: string;
    Name: string;
    VersionId: string;
    SecretString: string;
    VersionStages: string[];
    CreatedDate: Date;
  } {
    const id = request.SecretId ?? '';
    const secret =
      this.#byName.get(id) ?? [...this.#byName.values()].find((candidate) => candidate.arn === id);
    if (!secret || (request.VersionStage && request.VersionStage !== 'AWSCURRENT')) {
      throw new AwsApiError(
        'ResourceNotFoundException',
        "Secrets Manager can't find the specified secret.",
      );
    }
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: 'local-version-1',
      SecretString: secret.value,
      VersionStages: ['AWSCURRENT'],
      CreatedDate: secret.createdDate,
    };
  }
}
