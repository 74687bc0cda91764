/**
 * offload: durable background jobs for Node.js. The public API, and nothing else.
 * Start with docs/getting-started in the README.
 */
export { defineTask, type Task, type TaskDefinition, type TaskContext, type ExecutionMode, type TaskMode, type TaskPayload, type TaskResult } from './task.ts';
export { createQueue, Queue, type QueueOptions, type EnqueueOptions, type EnqueueManyItem, type EnqueueWithResult } from './queue.ts';
export { createWorker, Worker, type WorkerOptions, type WorkerEvents } from './worker/worker.ts';
export type { JobPlacement } from './worker/mode-placer.ts';
export { createSqliteStore, SqliteStore, type SqliteStoreOptions } from './store/sqlite/sqlite-store.ts';
export { createPostgresStore, PostgresStore, type PostgresStoreOptions } from './store/postgres/postgres-store.ts';
export { openStore } from './store/open-store.ts';
export type { Store, EnqueueContext, QueueInfo, TaskInfo, JobEvent, StoreEvents, JobFilter, JobListParams, TokenRecord } from './store/contract.ts';
export { WEBHOOK_TASK, WEBHOOK_QUEUE } from './store/contract.ts';
export { signWebhook, verifyWebhook, SIGNATURE_HEADER, WEBHOOK_ID_HEADER, type WebhookPayload } from './webhooks/signature.ts';
export { getWebhookSecret } from './webhooks/secret.ts';
export type { DeliveryResult } from './webhooks/delivery.ts';
export { createToken, authenticateToken, listTokens, revokeToken, hasScope, SCOPES, type Scope, type TokenInfo } from './auth/tokens.ts';
export type { Job, JobState } from './job.ts';
export { JOB_STATES } from './job.ts';
export { OffloadError, PermanentFailure, Snooze, ErrorCodes, type ErrorCode, type SerializedError } from './errors.ts';
export type { Backoff } from './backoff.ts';
export type { Clock } from './clock.ts';
export type { StandardSchemaV1 } from './schema.ts';
export { loadTaskModule } from './task-module.ts';
export { createPool } from './pool/pool.ts';
export type { Pool, RunOptions, PoolEvents, WorkerExitReason } from './pool/contract.ts';
export type { PoolOptions } from './pool/pool-options.ts';
export type { PoolStats, Percentiles } from './pool/pool-stats.ts';
export { createServer, OffloadServer, type ServerOptions } from './server/server.ts';
export type { Authenticate, Principal } from './server/auth.ts';
export type { Problem, FieldError } from './server/problem.ts';
