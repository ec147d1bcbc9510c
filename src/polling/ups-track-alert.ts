import { randomUUID } from 'node:crypto';
import { callJson } from '../carriers/http.ts';
import type { HttpClient, ProviderConfig } from '../carriers/provider.ts';
import { ClientCredentialsToken } from '../net/oauth-client.ts';
import type { HubContext } from '../operations/context.ts';
import { recordUpsSubscriptions, upsNumbersToSubscribe } from '../store/ups-subscriptions.ts';
import { WorkLoop } from '../work-loop.ts';

/** A Track Alert subscription lasts 14 days; renew a day early so no event falls in a gap. */
export const UPS_SUBSCRIPTION_RENEW_AFTER_MS = 13 * 86_400_000;
/** UPS takes at most 100 numbers per subscription request (VSS220). */
const MAX_NUMBERS = 100;

/**
 * Keeps UPS Track Alert subscriptions for every open UPS parcel: subscribes new numbers and renews
 * those whose 14-day subscription is about to lapse, so UPS keeps pushing to
 * `{TRACKHUB_PUBLIC_URL}/carriers/v1/ups/webhook` with the webhook secret as `credential`. Runs in every
 * worker; the subscriptions table makes a number's renewal happen once, whichever worker does it.
 */
export class UpsTrackAlertSubscriber {
  private readonly loop: WorkLoop;
  private readonly token: ClientCredentialsToken;

  constructor(
    private readonly ctx: HubContext,
    private readonly o: { config: ProviderConfig & { webhookSecret: string }; http: HttpClient; callbackUrl: string; everyMs?: number },
  ) {
    this.token = new ClientCredentialsToken(o.http, `${o.config.baseUrl}/security/v1/oauth/token`, o.config.clientId ?? '', o.config.clientSecret ?? '', 'basic');
    this.loop = new WorkLoop(() => this.runOnce(), MAX_NUMBERS, o.everyMs ?? 600_000, (err) => ctx.log.warn({ err }, 'UPS Track Alert subscription round failed'));
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Subscribes up to 100 numbers that need it; returns how many were sent to UPS. */
  async runOnce(): Promise<number> {
    const now = this.ctx.now();
    const renewBefore = new Date(now.getTime() - UPS_SUBSCRIPTION_RENEW_AFTER_MS);
    const numbers = await upsNumbersToSubscribe(this.ctx.db, renewBefore, MAX_NUMBERS);
    if (numbers.length === 0) return 0;
    const call = await callJson<{ validTrackingNumbers?: string[]; invalidTrackingNumbers?: string[] }>({
      label: 'UPS Track Alert',
      http: this.o.http,
      url: `${this.o.config.baseUrl}/api/track/v1/subscription/standard/package`,
      method: 'POST',
      token: this.token,
      headers: { 'content-type': 'application/json', transId: randomUUID().replace(/-/g, '').slice(0, 32), transactionSrc: 'trackhub' },
      body: JSON.stringify({
        locale: 'en_US',
        countryCode: 'US',
        trackingNumberList: numbers,
        destination: { url: this.o.callbackUrl, credentialType: 'Bearer', credential: this.o.config.webhookSecret },
      }),
    });
    if (!call.ok || call.status !== 200) {
      this.ctx.log.warn({ status: call.ok ? call.status : undefined, message: call.ok ? undefined : call.result.kind === 'error' ? call.result.message : undefined }, 'UPS Track Alert subscription refused');
      return 0;
    }
    // Numbers UPS refused are recorded too: asking again every round would not change its mind; they are
    // retried with the next renewal, and polling covers them meanwhile.
    await recordUpsSubscriptions(this.ctx.db, numbers, now);
    const invalid = call.json.invalidTrackingNumbers ?? [];
    if (invalid.length > 0) this.ctx.log.info({ invalid: invalid.length }, 'UPS Track Alert refused some numbers; they are polled');
    return numbers.length;
  }
}
