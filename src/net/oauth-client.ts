import type { HttpClient } from './http-client.ts';

/**
 * The token endpoint refused our client id and secret (400 invalid_client / 401 / 403, RFC 6749 §5.2):
 * asking again will not help until someone fixes the configuration.
 */
export class CredentialsRefused extends Error {
  constructor(readonly status: number) {
    super(`token endpoint refused the credentials (${status})`);
  }
}

/**
 * OAuth2 client-credentials token, cached until shortly before it expires. Concurrent callers share one
 * token request. `invalidate()` forces a fresh token after a 401.
 */
export class ClientCredentialsToken {
  private token?: { value: string; expiresAt: number };
  private inflight?: Promise<string>;

  constructor(
    private readonly http: HttpClient,
    private readonly tokenUrl: string,
    private readonly clientId: string,
    private readonly clientSecret: string,
    /**
     * `body`: credentials in the form body (FedEx); `basic`: HTTP Basic header (UPS, RFC 6749 §2.3.1);
     * `json`: credentials in a JSON body, as the USPS v3 token endpoint documents it.
     */
    private readonly style: 'body' | 'basic' | 'json',
    private readonly now: () => number = Date.now,
  ) {}

  invalidate(): void {
    this.token = undefined;
  }

  async get(): Promise<string> {
    if (this.token && this.token.expiresAt > this.now()) return this.token.value;
    this.inflight ??= this.fetchToken().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async fetchToken(): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    let body: string | undefined;
    if (this.style === 'json') {
      headers['content-type'] = 'application/json';
      body = JSON.stringify({ client_id: this.clientId, client_secret: this.clientSecret, grant_type: 'client_credentials' });
    } else if (this.style === 'body') {
      form.set('client_id', this.clientId);
      form.set('client_secret', this.clientSecret);
    } else {
      headers.authorization = `Basic ${Buffer.from(`${this.clientId}:${this.clientSecret}`).toString('base64')}`;
    }
    const res = await this.http(this.tokenUrl, { method: 'POST', headers, body: body ?? form.toString() });
    if (res.status === 400 || res.status === 401 || res.status === 403) throw new CredentialsRefused(res.status);
    if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}`);
    const json = JSON.parse(res.body) as { access_token?: string; expires_in?: number | string };
    if (!json.access_token) throw new Error('token endpoint sent no access_token');
    const lifetimeS = Number(json.expires_in ?? 3600) || 3600;
    // Renew a minute early (or at half-life for short tokens) so a request never carries a dying token.
    const marginMs = Math.min(60_000, (lifetimeS * 1000) / 2);
    this.token = { value: json.access_token, expiresAt: this.now() + lifetimeS * 1000 - marginMs };
    return json.access_token;
  }
}
