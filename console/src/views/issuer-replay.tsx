import { useEffect, useState } from 'preact/hooks';
import { type ApiError, api, qs, seg } from '../api.ts';
import { ErrorNote, plural, Time, utc } from '../ui.tsx';
import { parseUtcInput, utcInputValue, WriteError } from './delivery-parts.tsx';

// Replaying an issuer's notifications since a time, in three steps: the form (the time is typed in UTC,
// never read in the browser's zone), a confirmation stating what the hub's preview counts, and the result.

interface Preview {
  count: number;
  oldest: string | null;
  newest: string | null;
  /** The preview's time: the replay is bounded by it and by the count, so it sends what was confirmed. */
  until: string;
}

type Step =
  | { step: 'form' }
  | { step: 'confirm'; issuerId: string; since: string; includeDelivered: boolean; preview: Preview }
  | { step: 'done'; issuerId: string; replayed: number; previewed: number };

export function IssuerReplay({ issuers, defaultIssuer, onReplayed }: { issuers: { issuerId: string; name: string }[]; defaultIssuer: string | undefined; onReplayed(): void }) {
  const [step, setStep] = useState<Step>({ step: 'form' });
  const [sinceText, setSinceText] = useState(() => utcInputValue(new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 24 * 3_600_000)));
  const [issuerId, setIssuerId] = useState(defaultIssuer ?? '');
  const [includeDelivered, setIncludeDelivered] = useState(false);
  const [problem, setProblem] = useState('');
  const [error, setError] = useState<ApiError | undefined>();
  const [writeError, setWriteError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  // Each step's change moves focus to what it shows: the confirmation's heading, then the result.
  useEffect(() => {
    if (step.step !== 'form') document.getElementById(step.step === 'confirm' ? 'replay-confirm-title' : 'replay-result')?.focus();
  }, [step.step]);
  const nameOf = (id: string) => issuers.find((i) => i.issuerId === id)?.name ?? id;
  const parsed = parseUtcInput(sinceText);

  async function preview(e: Event) {
    e.preventDefault();
    setError(undefined);
    setWriteError(undefined);
    if (!issuerId) return setProblem('Choose an issuer.');
    if ('problem' in parsed) return setProblem(`Since: ${parsed.problem}.`);
    setProblem('');
    setBusy(true);
    try {
      const p = await api<Preview>(`/admin/v1/issuers/${seg(issuerId)}/replay-preview${qs({ since: parsed.iso, includeDelivered: includeDelivered || undefined })}`);
      setStep({ step: 'confirm', issuerId, since: parsed.iso, includeDelivered, preview: p });
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  }

  async function confirm() {
    if (step.step !== 'confirm') return;
    setBusy(true);
    setWriteError(undefined);
    try {
      const res = await api<{ replayed: number }>(`/admin/v1/issuers/${seg(step.issuerId)}/replay`, {
        method: 'POST',
        body: { since: step.since, until: step.preview.until, expectedCount: step.preview.count, ...(step.includeDelivered ? { includeDelivered: true } : {}) },
      });
      setStep({ step: 'done', issuerId: step.issuerId, replayed: res.replayed, previewed: step.preview.count });
      onReplayed();
    } catch (err) {
      setWriteError(err as ApiError);
    } finally {
      setBusy(false);
    }
  }

  /** After a 409 (the count changed since the preview): the same question again, answered by a new preview. */
  async function previewAgain() {
    if (step.step !== 'confirm') return;
    setBusy(true);
    try {
      const p = await api<Preview>(`/admin/v1/issuers/${seg(step.issuerId)}/replay-preview${qs({ since: step.since, includeDelivered: step.includeDelivered || undefined })}`);
      setWriteError(undefined);
      setStep({ ...step, preview: p });
    } catch (err) {
      setWriteError(err as ApiError);
    } finally {
      setBusy(false);
    }
  }

  if (step.step === 'confirm') {
    const p = step.preview;
    const what = step.includeDelivered ? 'dead and delivered' : 'dead';
    return (
      <section class="confirm card" aria-labelledby="replay-confirm-title">
        <h4 id="replay-confirm-title" tabIndex={-1}>
          Confirm the replay
        </h4>
        {p.count === 0 ? (
          <p id="replay-summary">
            Nothing to replay: {nameOf(step.issuerId)} has no {what} notification created since {utc(step.since)}.
          </p>
        ) : (
          <p id="replay-summary">
            {plural(p.count, 'notification')} will be sent again to {nameOf(step.issuerId)} <code>{step.issuerId}</code> (oldest{' '}
            <Time value={p.oldest} />, newest <Time value={p.newest} />
            ): every {what} one created since {utc(step.since)}.
          </p>
        )}
        <div class="buttons">
          <button type="button" class="quiet" onClick={() => setStep({ step: 'form' })}>
            Cancel
          </button>
          {p.count > 0 ? (
            <button type="button" class="danger" onClick={confirm} disabled={busy}>
              Confirm: send {plural(p.count, 'notification')} again
            </button>
          ) : null}
        </div>
        {writeError?.status === 409 ? (
          <div class="error" role="alert" id="replay-changed">
            <p>
              Nothing was replayed: the notifications to replay changed since this preview (the hub said: {writeError.message}). Preview again to see what
              would be sent now, then confirm that.
            </p>
            <button type="button" onClick={previewAgain} disabled={busy}>
              Preview again
            </button>
          </div>
        ) : (
          <WriteError error={writeError} action="Replaying an issuer's notifications" />
        )}
      </section>
    );
  }

  return (
    <form class="filters replay-form" onSubmit={preview} aria-labelledby="replay-title">
      <label>
        Issuer
        <select name="issuerId" value={issuerId} onChange={(e) => setIssuerId((e.target as HTMLSelectElement).value)} required>
          <option value="">choose…</option>
          {issuers.map((i) => (
            <option key={i.issuerId} value={i.issuerId}>
              {i.name} ({i.issuerId})
            </option>
          ))}
        </select>
      </label>
      <label>
        Created since (UTC)
        <input
          name="since"
          type="text"
          inputMode="numeric"
          autocomplete="off"
          placeholder="2026-12-06T08:00Z"
          value={sinceText}
          onInput={(e) => setSinceText((e.target as HTMLInputElement).value)}
          aria-describedby="since-reading"
          required
        />
      </label>
      <label class="inline">
        <input name="includeDelivered" type="checkbox" checked={includeDelivered} onChange={(e) => setIncludeDelivered((e.target as HTMLInputElement).checked)} /> also
        delivered ones
      </label>
      <button type="submit" disabled={busy}>
        Preview the replay
      </button>
      <p id="since-reading" class="hint full">
        {'iso' in parsed ? (
          <>
            Read as <Time value={parsed.iso} /> (hover for your local time).
          </>
        ) : (
          'A UTC time, e.g. 2026-12-06T08:00Z; no local time is assumed.'
        )}
      </p>
      {problem ? (
        <p class="error full" role="alert">
          {problem}
        </p>
      ) : null}
      <div class="full">
        <ErrorNote error={error} />
      </div>
      {step.step === 'done' ? (
        <p class="ok-text full" role="status" id="replay-result" tabIndex={-1}>
          {plural(step.replayed, 'notification')} of {nameOf(step.issuerId)} queued to be sent again
          {step.replayed !== step.previewed ? ` (the preview counted ${step.previewed}: the store changed in between)` : ''}.
        </p>
      ) : null}
    </form>
  );
}
