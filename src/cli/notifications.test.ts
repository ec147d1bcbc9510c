import { describe, expect, it } from 'vitest';
import { NOTIFICATION_STATES as STORE_STATES } from '../store/notifications.ts';
import { NOTIFICATION_STATES } from './notifications.ts';

describe('trackhub notifications', () => {
  it('offers the store notification states, in its order', () => {
    expect(NOTIFICATION_STATES).toEqual(STORE_STATES);
  });
});
