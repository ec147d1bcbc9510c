import type { IssuerTarget } from './targets.ts';

/**
 * The dispatcher's memory of endpoints that answered 410 Gone, between the answer and the moment the
 * store's record of it can be trusted. A targets refresh that started before the disable was written
 * may still read the endpoint as sending; until a refresh started after that write, such an endpoint
 * stays closed here. From then on the store decides, so a PUT that re-enables the issuer shows. After
 * a minute without the store's record (a failed write) the memory lets go as well.
 */
export class GoneEndpoints {
  /** `at` when the 410 was seen; `trustFrom`, once the store holds the disable, the first refresh to trust. */
  private readonly gone = new Map<string, { at: number; trustFrom?: number }>();
  /** Targets refreshes started so far. */
  private refreshes = 0;

  constructor(private readonly now: () => number) {}

  /** The endpoint answered 410: closed at once, before the store records it. */
  answered(target: IssuerTarget): void {
    target.sending = false;
    this.gone.set(target.issuerId, { at: this.now() });
  }

  /** The store now records the disable: refreshes starting from the next one may be trusted. */
  recorded(target: IssuerTarget | undefined, issuerId: string): void {
    if (target) target.sending = false;
    const g = this.gone.get(issuerId);
    if (g) g.trustFrom = this.refreshes + 1;
  }

  /** Call as a targets refresh starts; returns its number, for `afterRefresh`. */
  refreshStarting(): number {
    return ++this.refreshes;
  }

  /** Keeps the endpoints the refresh numbered `refresh` may have read too early closed; forgets the rest. */
  afterRefresh(refresh: number, targets: Map<string, IssuerTarget>): void {
    for (const [issuerId, g] of this.gone) {
      const storeKnows = g.trustFrom !== undefined && refresh >= g.trustFrom;
      if (storeKnows || this.now() - g.at > 60_000) this.gone.delete(issuerId); // the store decides now (or never will)
      else {
        const t = targets.get(issuerId);
        if (t) t.sending = false;
      }
    }
  }
}
