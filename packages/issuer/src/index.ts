/** @trackhub/issuer: what an issuer's back-end needs to talk to a Trackhub hub. See the package's README. */
export { type ExpressLikeRequest, expressMiddleware } from './adapters/express.ts';
export { type FastifyLike, type FastifyRouteOptions, fastifyNotificationRoute } from './adapters/fastify.ts';
export { type AdapterOptions, nodeHttpListener } from './adapters/node.ts';
export { type RequestOptions, type SyncOptions, type SyncResult, TrackhubClient, type TrackhubClientOptions } from './client.ts';
export { SyncError, TrackhubApiError, TrackhubNetworkError, TrackhubTokenError, WebhookVerificationError, type WebhookVerificationReason } from './errors.ts';
export { type HandleResult, NotificationHandler, type NotificationHandlerOptions, type NotificationMeta } from './handler.ts';
export type { FetchLike, RetryOptions } from './http.ts';
export { MemoryNotificationStore, type MemoryNotificationStoreOptions } from './stores/memory.ts';
export { type PgClientLike, type PgPoolLike, PostgresNotificationStore, type PostgresNotificationStoreOptions } from './stores/postgres.ts';
export type { NotificationStore, RunResult, SequenceView } from './stores/store.ts';
export { TokenProvider, type TokenProviderOptions } from './token.ts';
export type { ErrorBody, FeedNotification, FeedPage, NotificationBody, Operation, TrackingStatus, TrackRequest, TrackResponse } from './types.ts';
export { type HeadersLike, type VerifyOptions, verifyNotification } from './verify.ts';
