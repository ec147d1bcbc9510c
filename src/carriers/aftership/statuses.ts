import type { StatusRow } from '../parse-util.ts';

/** AfterShip `tag`: the coarse category (AfterShip's Tracking API documentation), used when a subtag is unknown. */
export const AFTERSHIP_TAGS: Record<string, StatusRow> = {
  Pending: { status: 'PENDING' },
  InfoReceived: { status: 'INFO_RECEIVED' },
  InTransit: { status: 'IN_TRANSIT' },
  OutForDelivery: { status: 'OUT_FOR_DELIVERY' },
  AttemptFail: { status: 'FAILED_ATTEMPT' },
  Delivered: { status: 'DELIVERED' },
  AvailableForPickup: { status: 'AVAILABLE_FOR_PICKUP' },
  Exception: { status: 'EXCEPTION' },
  Expired: { status: 'EXPIRED' },
};

/**
 * AfterShip `subtag` → status and reason. The code set is from carriers.md §4.1; returns are split out of
 * Exception because the hub has statuses of their own for them.
 */
export const AFTERSHIP_SUBTAGS: Record<string, StatusRow> = {
  Pending_001: { status: 'PENDING' },
  Pending_002: { status: 'PENDING' },
  Pending_003: { status: 'PENDING' },
  Pending_004: { status: 'PENDING' },
  Pending_005: { status: 'PENDING' },
  Pending_006: { status: 'PENDING' },
  InfoReceived_001: { status: 'INFO_RECEIVED' },
  InTransit_001: { status: 'IN_TRANSIT' },
  InTransit_002: { status: 'IN_TRANSIT' },
  InTransit_003: { status: 'IN_TRANSIT' },
  InTransit_004: { status: 'IN_TRANSIT' },
  InTransit_005: { status: 'IN_TRANSIT' },
  InTransit_006: { status: 'IN_TRANSIT', subStatus: 'CUSTOMS' },
  InTransit_007: { status: 'IN_TRANSIT' },
  InTransit_008: { status: 'IN_TRANSIT' },
  InTransit_009: { status: 'IN_TRANSIT' },
  OutForDelivery_001: { status: 'OUT_FOR_DELIVERY' },
  OutForDelivery_003: { status: 'OUT_FOR_DELIVERY' },
  OutForDelivery_004: { status: 'OUT_FOR_DELIVERY' },
  AvailableForPickup_001: { status: 'AVAILABLE_FOR_PICKUP' },
  AttemptFail_001: { status: 'FAILED_ATTEMPT' },
  AttemptFail_002: { status: 'FAILED_ATTEMPT', subStatus: 'RECIPIENT_NOT_AVAILABLE' },
  AttemptFail_003: { status: 'FAILED_ATTEMPT', subStatus: 'RECIPIENT_NOT_AVAILABLE' },
  Delivered_001: { status: 'DELIVERED' },
  Delivered_002: { status: 'DELIVERED' },
  Delivered_003: { status: 'DELIVERED' },
  Delivered_004: { status: 'DELIVERED' },
  Delivered_005: { status: 'DELIVERED' },
  Exception_001: { status: 'EXCEPTION' },
  Exception_002: { status: 'EXCEPTION', subStatus: 'ADDRESS_ISSUE' },
  Exception_003: { status: 'EXCEPTION', subStatus: 'REFUSED' },
  Exception_004: { status: 'EXCEPTION', subStatus: 'CUSTOMS' },
  Exception_005: { status: 'EXCEPTION', subStatus: 'DELAYED' },
  Exception_006: { status: 'EXCEPTION', subStatus: 'HELD' },
  Exception_007: { status: 'EXCEPTION', subStatus: 'ADDRESS_ISSUE' },
  Exception_008: { status: 'EXCEPTION', subStatus: 'RECIPIENT_NOT_AVAILABLE' },
  Exception_009: { status: 'EXCEPTION' },
  Exception_010: { status: 'RETURNING_TO_SENDER' },
  Exception_011: { status: 'RETURNED_TO_SENDER' },
  Exception_012: { status: 'EXCEPTION', subStatus: 'DAMAGED' },
  Exception_013: { status: 'EXCEPTION', subStatus: 'LOST' },
  Exception_016: { status: 'EXCEPTION', subStatus: 'DELAYED' },
  Exception_017: { status: 'EXCEPTION', subStatus: 'WEATHER' },
  Exception_018: { status: 'EXCEPTION', subStatus: 'CUSTOMS' },
  Expired_001: { status: 'EXPIRED' },
};

/** `meta.code`s meaning AfterShip cannot track this number for this slug, rather than a failed call. */
export const AFTERSHIP_NOT_FOUND_CODES = new Set([4004, 4005, 4012, 4017]);
export const AFTERSHIP_ALREADY_EXISTS = 4003;
