import { publicKeyOf } from '../delivery/signing.ts';
import type { Issuer } from '../store/issuers.ts';

/** What the Admin API shows of an issuer: never its secrets. */
export function issuerView(i: Issuer) {
  return {
    issuerId: i.issuerId,
    name: i.name,
    notificationBaseUrl: i.notificationBaseUrl,
    jwks: i.jwks,
    webhookSecretCount: i.webhookSecrets.length,
    notificationSigning: i.notificationSigning ?? 'hmac',
    // A public key is no secret: the issuer verifies v1a signatures with it. Shown while the key signs.
    ...(i.notificationSigningPrivateKey ? { notificationPublicKey: publicKeyOf(i.notificationSigningPrivateKey) } : {}),
    notificationAuth: i.notificationAuth ? { tokenUrl: i.notificationAuth.tokenUrl, clientId: i.notificationAuth.clientId } : null,
    notificationTls: i.notificationTls ? { certificatePem: i.notificationTls.certificatePem, hasCa: Boolean(i.notificationTls.caPem) } : null,
    endpoint: i.endpointDisabledAt
      ? { state: 'disabled', disabledAt: i.endpointDisabledAt, reason: i.endpointDisabledReason }
      : { state: 'enabled' },
    maxOperationsPerNotification: i.maxOperationsPerNotification,
    autoTrackShipment: i.autoTrackShipment,
    enabled: i.enabled,
    createdAt: i.createdAt,
    updatedAt: i.updatedAt,
  };
}
