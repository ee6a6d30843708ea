// Ambient types for the parts of @20minutes/s3rver 5.x (the maintained fork of s3rver) the local
// stack uses: the package ships none.
declare module '@20minutes/s3rver' {
  import type { EventEmitter } from 'node:events';
  import type { AddressInfo } from 'node:net';

  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
  }

  namespace S3rver {
    /** The S3 notification event s3rver emits for object puts, copies, posts and deletes. */
    interface S3rverEvent {
      Records: {
        eventName: string;
        eventTime: string;
        s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string } };
      }[];
    }
  }

  class S3rver extends EventEmitter {
    constructor(options?: S3rverOptions);
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
    reset(): void;
    on(event: 'event', listener: (event: S3rver.S3rverEvent) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export = S3rver;
}
