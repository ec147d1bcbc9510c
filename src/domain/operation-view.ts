import type { CarrierCode } from './carriers.ts';
import type { FailureCode, OperationState, OperationStatus, ShipmentState } from './operation.ts';
import type { Checkpoint, ShipmentStatus, SubStatus } from './shipment.ts';
import type { TrackingType } from './track-request.ts';

/**
 * What the issuer is shown of an operation: the operation object of the contract (§3.2), in every
 * notification and every trackingStatus answer. The state machine (operation.ts) decides; this renders.
 */

export interface OperationObject {
  operationId: string;
  operation: 'STANDALONE_TRACKING';
  status: OperationStatus;
  issuerId: string;
  cardId: string;
  timestamp: string;
  startTime: string;
  endTime?: string;
  sequenceNumber: number;
  details: {
    trackingType: TrackingType;
    productionSite?: string;
    status?: 'CARD_SHIPPED' | 'CARD_RETURNED';
    shipment?: ShipmentObject;
  };
  errorCode?: FailureCode;
  error?: string;
}

export interface ShipmentObject {
  carrier: CarrierCode;
  trackingNumber: string;
  status: ShipmentStatus;
  subStatus?: SubStatus;
  message: string;
  trackingUrl: string;
  estimatedDeliveryDate?: string;
  lastUpdatedAt?: string;
  lastCheckpoint?: Omit<Checkpoint, 'raw' | 'subStatus'> & { raw: Checkpoint['raw'] };
  checkpoints?: Checkpoint[];
}

function businessStatus(type: TrackingType): 'CARD_SHIPPED' | 'CARD_RETURNED' {
  return type === 'RETURN' ? 'CARD_RETURNED' : 'CARD_SHIPPED';
}

/** The operation object of docs/contract.md §3.2 for the state's latest update. */
export function toOperationObject(s: OperationState, opts: { withCheckpoints?: boolean } = {}): OperationObject {
  const showBusinessStatus = s.status !== 'FAILED' && (s.trackingType === 'SHIPMENT' || s.status === 'SUCCESSFUL');
  const shipmentShown = s.trackingType === 'SHIPMENT' && s.shipment;
  return {
    operationId: s.operationId,
    operation: 'STANDALONE_TRACKING',
    status: s.status,
    issuerId: s.issuerId,
    cardId: s.cardId,
    timestamp: s.updatedAt,
    startTime: s.startTime,
    ...(s.endTime ? { endTime: s.endTime } : {}),
    sequenceNumber: s.sequenceNumber,
    details: {
      trackingType: s.trackingType,
      ...((s.request.productionSite ?? s.productionSite) ? { productionSite: s.request.productionSite ?? s.productionSite } : {}),
      ...(showBusinessStatus ? { status: businessStatus(s.trackingType) } : {}),
      ...(shipmentShown && s.shipment ? { shipment: shipmentObject(s.shipment, opts.withCheckpoints ?? false) } : {}),
    },
    ...(s.errorCode ? { errorCode: s.errorCode, error: s.error } : {}),
  };
}

function shipmentObject(sh: ShipmentState, withCheckpoints: boolean): ShipmentObject {
  const last = sh.checkpoints.at(-1);
  return {
    carrier: sh.carrier,
    trackingNumber: sh.trackingNumber,
    status: sh.status,
    ...(sh.subStatus ? { subStatus: sh.subStatus } : {}),
    message: sh.message,
    trackingUrl: sh.trackingUrl,
    ...(sh.estimatedDeliveryDate ? { estimatedDeliveryDate: sh.estimatedDeliveryDate } : {}),
    ...(sh.lastUpdatedAt ? { lastUpdatedAt: sh.lastUpdatedAt } : {}),
    ...(last ? { lastCheckpoint: last } : {}),
    ...(withCheckpoints ? { checkpoints: sh.checkpoints } : {}),
  };
}
