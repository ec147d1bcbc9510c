import { qs } from '../api.ts';
import { href, type Route } from '../router.ts';
import { Badge, count, ErrorNote, Loading, percent, plural, Table, Time, useApi, View } from '../ui.tsx';
import { EndpointBadge, type NotificationInsights } from './delivery-parts.tsx';
import { windowOf } from './overview.tsx';

// Issuers: every registered issuer as the Admin API shows it (GET /admin/v1/issuers never returns a secret;
// this view shows only counts and public parts), with its delivery health over the last 24 hours from the
// notification insights, and a link to the Notifications view filtered on it.

interface IssuerView {
  issuerId: string;
  name: string;
  notificationBaseUrl: string;
  jwks?: { keys?: unknown[] };
  webhookSecretCount?: number;
  notificationSigning?: string;
  notificationAuth?: { tokenUrl: string; clientId: string } | null;
  notificationTls?: { hasCa: boolean } | null;
  maxOperationsPerNotification: number;
  autoTrackShipment: boolean;
  enabled: boolean;
  createdAt?: string;
  updatedAt?: string;
}

function Signing({ i }: { i: IssuerView }) {
  const signing = i.notificationSigning ?? 'hmac';
  return (
    <>
      <div>
        {signing === 'ed25519' ? 'Ed25519 (v1a)' : 'HMAC (v1)'}
        {signing === 'hmac' && i.webhookSecretCount !== undefined ? <span class="muted"> · {plural(i.webhookSecretCount, 'secret')}{i.webhookSecretCount > 1 ? ' (rotation)' : ''}</span> : null}
      </div>
      {i.notificationAuth ? <div class="muted">OAuth client {i.notificationAuth.clientId}</div> : null}
      {i.notificationTls ? <div class="muted">mutual TLS{i.notificationTls.hasCa ? ', own CA' : ''}</div> : null}
      <div class="muted">{plural(i.jwks?.keys?.length ?? 0, 'signing key')} for its own requests</div>
    </>
  );
}

export function IssuersView(_props: { route: Route }) {
  const list = useApi<{ issuers: IssuerView[] }>('/admin/v1/issuers');
  const w = windowOf('24h');
  const health = useApi<NotificationInsights>(`/admin/v1/insights/notifications${qs({ from: w.from, to: w.to })}`);
  const byId = new Map((health.data?.issuers ?? []).map((h) => [h.issuerId, h]));
  const issuers = list.data?.issuers ?? [];
  return (
    <View title="Issuers" intro="The banks the hub tracks cards for and notifies, with their delivery health over the last 24 hours (UTC). Secrets are never shown.">
      <ErrorNote error={list.error} />
      <ErrorNote error={health.error} />
      <Loading when={list.loading && !list.data} />
      {list.data ? (
        <Table
          caption={plural(issuers.length, 'issuer')}
          head={['Issuer', 'Notification URL', 'Signing', 'Enabled', 'Limits', 'Delivery, last 24 h', 'Endpoint', '']}
          empty={issuers.length === 0}
        >
          {issuers.map((i) => {
            const h = byId.get(i.issuerId);
            return (
              <tr key={i.issuerId} data-issuer={i.issuerId}>
                <td>
                  <div>{i.name}</div>
                  <code>{i.issuerId}</code>
                  {i.createdAt ? (
                    <div class="muted">
                      since <Time value={i.createdAt} />
                    </div>
                  ) : null}
                </td>
                <td>
                  <code>{i.notificationBaseUrl}</code>
                </td>
                <td>
                  <Signing i={i} />
                </td>
                <td>{i.enabled ? <Badge tone="ok">enabled</Badge> : <Badge tone="bad">disabled</Badge>}</td>
                <td>
                  <div>{i.maxOperationsPerNotification === 1 ? 'one operation per notification' : `up to ${i.maxOperationsPerNotification} operations per notification`}</div>
                  <div class="muted">{i.autoTrackShipment ? 'tracks shipments itself' : 'no automatic shipment tracking'}</div>
                </td>
                <td class="health">
                  {h ? (
                    <>
                      <div>
                        {h.successRate === null ? (
                          <span class="muted">none finished</span>
                        ) : (
                          <>
                            {percent(h.successRate)} delivered <span class="muted">of {count(h.delivered + h.dead)} finished</span>
                          </>
                        )}
                      </div>
                      <div>
                        backlog {count(h.backlog)}, dead {count(h.deadNow)}
                      </div>
                    </>
                  ) : (
                    <span class="muted">—</span>
                  )}
                </td>
                <td>{h ? <EndpointBadge endpoint={h.endpoint} health={h} /> : <span class="muted">—</span>}</td>
                <td>
                  <a href={href('notifications', { issuer: i.issuerId })}>Notifications</a>
                </td>
              </tr>
            );
          })}
        </Table>
      ) : null}
    </View>
  );
}
