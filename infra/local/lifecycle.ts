/**
 * A small lifecycle runner: services are data (a name, the services they need, a start that
 * returns a handle and how to stop it). `startServices` starts each one as soon as what it needs
 * is up, so independent services start in parallel; `stop` stops them in the reverse order they
 * came up. When a start fails, what already started (or was starting) is stopped and the error
 * names the service that failed.
 */

/** What a service's start returns: the handle others use, and how to stop it. */
export interface Started<Handle> {
  handle: Handle;
  /** Absent: nothing to stop (a value computed from other services). */
  stop?: () => Promise<void>;
}

/** One service of `Handles` (a record of every service's handle by name). */
export interface ServiceSpec<Handles, Name extends keyof Handles = keyof Handles> {
  name: Name;
  /** The services whose handles `start` reads; it starts once they are all up. */
  needs: readonly (keyof Handles)[];
  start(started: Partial<Handles>): Promise<Started<Handles[Name]>>;
}

/**
 * Declares a service with its dependencies typed: `start` gets exactly the handles it `needs`.
 * `services<Handles>()` fixes the record once; each call then infers the name and the needs.
 */
export function services<Handles>() {
  return <Name extends keyof Handles, Needs extends keyof Handles = never>(spec: {
    name: Name;
    needs?: readonly Needs[];
    start(started: Pick<Handles, Needs>): Promise<Started<Handles[Name]>>;
  }): ServiceSpec<Handles, Name> => ({
    name: spec.name,
    needs: spec.needs ?? [],
    // The runner passes every needed handle: the Pick holds.
    start: (started) => spec.start(started as Pick<Handles, Needs>),
  });
}

/** A service failed to start; everything else was stopped again. */
export class ServiceStartError extends Error {
  override name = 'ServiceStartError';
  readonly service: string;

  constructor(service: string, cause: unknown) {
    super(`${service} failed to start: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.service = service;
  }
}

export interface RunningServices<Handles> {
  handles: Handles;
  /** Stops every service, last started first; a failing stop does not keep the others up. */
  stop(): Promise<void>;
}

/**
 * Starts `specs` (each after the services it needs) and resolves with every handle. Rejects with
 * a ServiceStartError for the first service that failed, once every service that started has
 * been stopped again; services that had not started by then never start.
 */
export async function startServices<Handles>(
  specs: readonly ServiceSpec<Handles>[],
): Promise<RunningServices<Handles>> {
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  for (const spec of specs) {
    for (const need of spec.needs) {
      if (!byName.has(need)) {
        throw new Error(
          `Service ${String(spec.name)} needs ${String(need)}, which is not declared`,
        );
      }
    }
  }
  assertNoCycle(specs);
  const handles: Partial<Handles> = {};
  // Stops in the order the services came up; reversed on stop.
  const stops: (() => Promise<void>)[] = [];
  let failure: ServiceStartError | undefined;
  const starting = new Map<keyof Handles, Promise<void>>();
  const startOne = (spec: ServiceSpec<Handles>): Promise<void> => {
    let running = starting.get(spec.name);
    if (running) return running;
    running = (async () => {
      await Promise.all(
        spec.needs.map((need) => startOne(byName.get(need) as ServiceSpec<Handles>)),
      );
      // Another service failed meanwhile: do not start more that would only be stopped.
      if (failure) return;
      let started: Started<Handles[keyof Handles]>;
      try {
        const needed: Partial<Handles> = {};
        for (const need of spec.needs) needed[need] = handles[need];
        started = await spec.start(needed);
      } catch (error) {
        failure ??= new ServiceStartError(String(spec.name), error);
        throw failure;
      }
      handles[spec.name] = started.handle;
      if (started.stop) stops.push(started.stop);
    })();
    starting.set(spec.name, running);
    return running;
  };
  const stop = async () => {
    for (const stopOne of stops.splice(0).reverse()) await stopOne().catch(() => {});
  };
  // Every start settles before we decide: a service still starting when another failed is
  // stopped too, not left running.
  await Promise.allSettled(specs.map(startOne));
  if (failure) {
    await stop();
    throw failure;
  }
  return { handles: handles as Handles, stop };
}

function assertNoCycle<Handles>(specs: readonly ServiceSpec<Handles>[]): void {
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const done = new Set<keyof Handles>();
  const visit = (name: keyof Handles, path: (keyof Handles)[]) => {
    if (done.has(name)) return;
    if (path.includes(name)) {
      throw new Error(`Services depend on each other: ${[...path, name].map(String).join(' -> ')}`);
    }
    for (const need of byName.get(name)?.needs ?? []) visit(need, [...path, name]);
    done.add(name);
  };
  for (const spec of specs) visit(spec.name, []);
}
