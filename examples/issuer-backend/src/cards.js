/**
 * Each card's state as the notifications tell it, in memory: per operation its latest update, and the
 * updates applied, in the order they were applied. The SDK's handler calls `apply` only for verified,
 * new, newer-than-known updates, so this code holds no signature, de-duplication or ordering logic.
 * Bounded: past `maxCards` the card updated longest ago is forgotten.
 */
export class CardBook {
  #cards = new Map();
  #max;

  constructor({ maxCards = 10_000 } = {}) {
    this.#max = maxCards;
  }

  /** One update (a full snapshot of its operation). */
  apply(op, meta) {
    const card = this.#cards.get(op.cardId) ?? { cardId: op.cardId, operations: {}, history: [] };
    const shipment = op.details.shipment;
    const view = {
      operationId: op.operationId,
      trackingType: op.details.trackingType,
      status: op.status,
      // A SHIPMENT says where the parcel is (its PENDING still carries the site's CARD_SHIPPED); the others, what happened.
      detail: (op.details.trackingType === 'SHIPMENT' ? shipment?.status : op.details.status) ?? op.errorCode ?? null,
      lastCheckpoint: shipment?.lastCheckpoint ?? null,
      sequenceNumber: op.sequenceNumber,
      ended: Boolean(op.endTime),
      webhookId: meta.webhookId,
    };
    card.operations[op.operationId] = view;
    // Each operation's updates come at most a few dozen times: the history stays small.
    card.history.push({ operationId: op.operationId, sequenceNumber: op.sequenceNumber, status: op.status, detail: view.detail });
    // Re-inserted so the Map's order is least recently updated first.
    this.#cards.delete(op.cardId);
    this.#cards.set(op.cardId, card);
    if (this.#cards.size > this.#max) this.#cards.delete(this.#cards.keys().next().value);
    return view;
  }

  get(cardId) {
    return this.#cards.get(cardId);
  }
}
