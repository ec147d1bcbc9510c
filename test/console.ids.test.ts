import { describe, expect, it } from 'vitest';
import { CARD_ID, ISSUER_ID, SITE_ID } from '../console/src/ids.ts';
import { CARD_ID as HUB_CARD_ID, ISSUER_ID as HUB_ISSUER_ID } from '../src/domain/track-request.ts';
import { SITE_ID as HUB_SITE_ID } from '../src/sites/events.ts';

describe("the console's id formats", () => {
  it("are the hub's, so a link the console refuses is one the API would refuse", () => {
    expect(ISSUER_ID.source).toBe(HUB_ISSUER_ID.source);
    expect(CARD_ID.source).toBe(HUB_CARD_ID.source);
    expect(SITE_ID.source).toBe(HUB_SITE_ID.source);
  });
});
