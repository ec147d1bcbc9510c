/**
 * The SDK's names for the hub's shapes. Track and status types come from src/generated/openapi.ts,
 * generated from the hub's OpenAPI document, so they follow the hub; the feed's are written here to
 * the shared design until the document describes that route.
 */
import type { components, paths, webhooks } from './generated/openapi.ts';

type TrackPath = paths['/banking/v1/issuers/{issuerId}/physicalCards/{cardId}/track']['post'];
type StatusPath = paths['/banking/v1/issuers/{issuerId}/physicalCards/{cardId}/trackingStatus']['get'];

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

/** One item of the catch-up feed: the same `webhookId` and body as the push of that notification. */
export interface FeedNotification {
  webhookId: string;
  createdAt: string;
  body: NotificationBody;
}

/** A page of the catch-up feed. */
export interface FeedPage {
  notifications: FeedNotification[];
  /** Where the next call starts (`after`); the same cursor again when the page was empty. */
  nextCursor: string;
  hasMore: boolean;
}
