// The hub's id formats (src/domain/track-request.ts ISSUER_ID and CARD_ID, src/sites/events.ts SITE_ID;
// test/console.ids.test.ts holds them equal). A link's id is checked before it reaches a heading: the API
// refuses a malformed one, and a crafted link must not put its own text in the page's title.

export const ISSUER_ID = /^[A-Za-z0-9_-]{10}$/;
export const CARD_ID = /^[A-Za-z0-9_-]{1,48}$/;
export const SITE_ID = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/;

export const ID_RULES = {
  issuer: '10 of A–Z, a–z, 0–9, _ and -',
  card: '1 to 48 of A–Z, a–z, 0–9, _ and -',
  site: '1 to 64 of A–Z, a–z, 0–9, _, . and -, not starting with a dot',
} as const;
