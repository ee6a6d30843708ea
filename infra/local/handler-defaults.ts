// The functions' shared logger and metrics (functions/shared/observability/observability.ts) read
// their settings when their module loads, and importing local-stack.ts loads it (through the
// route table's handlers), before the stack sets the handlers' environment. Imported first by
// local-stack.ts, this keeps EMF metric lines and X-Ray off a local terminal; the log level is
// set on the shared logger when the stack starts.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';
