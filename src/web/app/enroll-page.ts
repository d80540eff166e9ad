/**
 * The dashboard's enrollment page: an admin mints a one-time enrollment token (tags the device
 * gets, lifetime) and copies the `verge agent` command that enrolls a device with it. The control
 * plane stores tokens hashed and never lists them, so the page shows the tokens made in this tab.
 */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { EnrollTokenResponse, type Role } from '../../protocol/browser.ts';
import { ApiClient, HTTP_PATHS } from './api.ts';
import { message, tags, type Banner } from './format.ts';

/** Lifetimes offered (hours); the control plane allows up to 30 days. */
const TTL_HOURS = [1, 24, 24 * 7];

/** `k=v, k2=v2` → tags; null with the reason when a pair is malformed. */
export function parseTags(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const pair of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z0-9_.-]{1,64})=(.{0,256})$/.exec(pair);
    if (!m) return `tag '${pair}' is not key=value (key: letters, digits, _ . -)`;
    out[m[1]!] = m[2]!;
  }
  return out;
}

export function EnrollPage({ api, role, setBanner }: { api: ApiClient; role: Role; setBanner: (b: Banner) => void }) {
  const [made, setMade] = useState<EnrollTokenResponse[]>([]);
  const [busy, setBusy] = useState(false);
  if (role !== 'admin')
    return html`<div class="card">
      <h2>Enroll devices</h2>
      <p class="muted" id="read-only-note">This API key is read-only: enrollment tokens need an admin key.</p>
    </div>`;
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const f = (ev.target as HTMLFormElement).elements;
    const t = parseTags((f.namedItem('tags') as HTMLInputElement).value);
    if (typeof t === 'string') return setBanner({ kind: 'error', text: `Token not made: ${t}` });
    setBusy(true);
    try {
      const ttl_s = Number((f.namedItem('ttl') as HTMLSelectElement).value) * 3600;
      const tok = await api.post(HTTP_PATHS.enrollTokens, { tags: t, ttl_s }, EnrollTokenResponse);
      setMade((m) => [tok, ...m]);
      setBanner({ kind: 'info', text: 'Enrollment token made: it works once, until it expires.' });
    } catch (e) {
      setBanner({ kind: 'error', text: `Token not made: ${message(e)}` });
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="card">
    <h2>Enroll devices</h2>
    <p class="muted">
      A token enrolls one device. Run the command on the device (Node ≥ 20 and verge installed); it appears in the fleet
      within seconds.
    </p>
    <form class="row" id="enroll-form" onSubmit=${submit}>
      <label>tags <input name="tags" placeholder="site=lab, line=2" /></label>
      <label
        >valid for
        <select name="ttl">
          ${TTL_HOURS.map((h) => html`<option value=${h}>${h < 24 ? `${h} hour` : `${h / 24} day${h > 24 ? 's' : ''}`}</option>`)}
        </select></label
      >
      <button type="submit" disabled=${busy}>Make token</button>
    </form>
    ${
      made.length > 0 &&
      html`<table class="table" id="enroll-tokens">
        <tr>
          <th>command</th>
          <th>tags</th>
          <th>expires</th>
        </tr>
        ${made.map(
          (t) =>
            html`<tr>
              <td>
                <code class="command"
                  >verge agent --cloud ${location.origin} --enroll-token ${t.token} --name NAME</code
                >
              </td>
              <td>${tags(t.tags).join(', ') || '—'}</td>
              <td>${new Date(t.expires_at).toLocaleString()}</td>
            </tr>`,
        )}
      </table>`
    }
  </div>`;
}
