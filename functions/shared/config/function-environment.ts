/**
 * The environment the functions read their configuration from. On Lambda it is the process's.
 * A host that runs the functions in its own process (the local stack, infra/local) hands them
 * theirs with `hostFunctions` instead of writing it into process.env: the host's own settings
 * (a developer's AWS profile, a test runner's variables) stay as they were, and what the
 * functions read is one value the host built.
 */
export type Env = Readonly<Record<string, string | undefined>>;

let hosted: Env | undefined;

/** The functions' environment: the one a host handed them, else process.env. */
export function functionEnvironment(): Env {
  return hosted ?? process.env;
}

/** The environment a host handed its in-process functions; undefined on Lambda. */
export function hostedEnvironment(): Env | undefined {
  return hosted;
}

/**
 * Hands the functions run in this process their environment (before any is invoked: handlers
 * read it when their module loads, and AWS clients when first used).
 */
export function hostFunctions(environment: Env): void {
  hosted = environment;
}
