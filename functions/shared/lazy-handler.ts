import type { Context } from 'aws-lambda';

type Handler<TEvent, TResult> = (event: TEvent, context?: Context) => Promise<TResult>;

/**
 * A Lambda entry whose dependencies are built on its first invocation: configuration read once
 * (a bad value fails that invocation loudly, naming it), clients created once per container.
 * Nothing is built at import, so a cold start pays for loading code only, and a test can import
 * a handler module for its factory without an environment. A failed build is not cached: the
 * next invocation fails as loudly, or succeeds once the cause is fixed.
 */
export function lazyHandler<TEvent, TResult>(
  build: () => Handler<TEvent, TResult> | Promise<Handler<TEvent, TResult>>,
): Handler<TEvent, TResult> {
  let built: Promise<Handler<TEvent, TResult>> | undefined;
  return async (event, context) => {
    built ??= Promise.resolve()
      .then(build)
      .catch((error: unknown) => {
        built = undefined;
        throw error;
      });
    return (await built)(event, context);
  };
}
