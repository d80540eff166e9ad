/**
 * The dashboard's live-update stream: GET /v1/events (server-sent events) read with fetch, so the
 * API key travels in the Authorization header (EventSource cannot send one, and a key in the URL
 * would land in logs). Each `fleet` event is checked against protocol/'s FleetEvent schema and
 * handed on; a dropped stream reconnects after RECONNECT_MS, and `onState` says whether the view
 * is live (the dashboard polls faster meanwhile).
 */
import { FLEET_EVENT_NAME, FleetEvent, HTTP_PATHS } from '../../protocol/browser.ts';

/** Wait before reconnecting a dropped stream. */
const RECONNECT_MS = 3000;

export interface LiveStream {
  close(): void;
}

export function openLiveStream(
  apiKey: string,
  onEvent: (e: FleetEvent) => void,
  onState: (live: boolean) => void,
  base = location.origin,
): LiveStream {
  let closed = false;
  let abort: AbortController | null = null;
  let retry: ReturnType<typeof setTimeout> | null = null;

  const connect = async () => {
    abort = new AbortController();
    try {
      const res = await fetch(base + HTTP_PATHS.events, {
        headers: { authorization: `Bearer ${apiKey}`, accept: 'text/event-stream' },
        signal: abort.signal,
        cache: 'no-store',
      });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      onState(true);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const e = parseEvent(buf.slice(0, end));
          buf = buf.slice(end + 2);
          if (e) onEvent(e);
        }
      }
    } catch {
      // refused, dropped or aborted: reconnect below unless closed
    }
    if (closed) return;
    onState(false);
    retry = setTimeout(() => void connect(), RECONNECT_MS);
  };
  void connect();
  return {
    close() {
      closed = true;
      if (retry) clearTimeout(retry);
      abort?.abort();
    },
  };
}

/** One SSE block (`event:` and `data:` lines; comments start with ':') → a FleetEvent, or null. */
export function parseEvent(block: string): FleetEvent | null {
  let name = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) name = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
  }
  if (name !== FLEET_EVENT_NAME || data.length === 0) return null;
  try {
    const parsed = FleetEvent.safeParse(JSON.parse(data.join('\n')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
