/** Account, region and ARN shapes of the local stack: fixed, obviously fake, AWS-shaped. */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';

export const lambdaArn = (functionName: string) =>
  `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${functionName}`;

export const stateMachineArn = (name: string) =>
  `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${name}`;

export const executionArn = (stateMachineName: string, name: string) =>
  `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${stateMachineName}:${name}`;

/** Secrets Manager appends six random characters to a secret's name in its ARN. */
export const secretArn = (name: string) =>
  `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:${name}-LOCAL0`;

/** The secret name inside a local secret ARN (undefined for anything else). */
export const secretNameFromArn = (arn: string): string | undefined =>
  /^arn:aws:secretsmanager:[^:]*:[^:]*:secret:(.+)-LOCAL0$/.exec(arn)?.[1];
