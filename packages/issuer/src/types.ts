/**
 * The SDK's names for the hub's shapes, all from src/generated/openapi.ts (generated from the hub's
 * OpenAPI document), so they follow the hub.
 */
import type { components, paths, webhooks } from './generated/openapi.ts';

type TrackPath = paths['/banking/v1/issuers/{issuerId}/physicalCards/{cardId}/track']['post'];
type StatusPath = paths['/banking/v1/issuers/{issuerId}/physicalCards/{cardId}/trackingStatus']['get'];
type FeedPath = paths['/banking/v1/issuers/{issuerId}/notifications']['get'];

/** One update of an operation, as notifications and status answers carry it. */
export type Operation = components['schemas']['OperationObject'];
/** The body of a track request (`trackingType` decides the other fields). */
export type TrackRequest = components['schemas']['TrackBody'];
/** The 202 answer to a track request. */
export type TrackResponse = TrackPath['responses'][202]['content']['application/json'];
/** The answer to trackingStatus: the card's operations, newest first. */
export type TrackingStatus = StatusPath['responses'][200]['content']['application/json'];
/** The contract's error body. */
export type ErrorBody = components['schemas']['ErrorBody'];

/** The body of a notification the hub POSTs (and of each item of the catch-up feed): the document's webhook. */
export type NotificationBody = webhooks['STANDALONE_TRACKING']['post']['requestBody']['content']['application/json'];

/** A page of the catch-up feed: `nextCursor` is where the next call starts (`after`), the same cursor again when the page was empty. */
export type FeedPage = FeedPath['responses'][200]['content']['application/json'];
/** One item of the catch-up feed: the same `webhookId` and body as the push of that notification. */
export type FeedNotification = FeedPage['notifications'][number];
