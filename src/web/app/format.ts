/**
 * Small display helpers shared by the dashboard's pages. Everything they return is rendered by
 * Preact as text (never as HTML), so device-provided strings cannot become markup.
 */
import { html } from 'htm/preact';
import { ApiError } from './api.ts';

/** An action's outcome shown above the page. */
export type Banner = { kind: 'error' | 'info'; text: string } | null;

/** One line a person can act on: the server's `message (CODE)`, or the error's own message. */
export function message(e: unknown): string {
  if (e instanceof ApiError) return `${e.message} (${e.code})`;
  return e instanceof Error ? e.message : String(e);
}

export const ago = (t: number | null): string => {
  if (t === null) return 'never';
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : new Date(t).toLocaleString();
};
export const bytes = (n: number): string =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} kB`;
export const tags = (t: Record<string, string>): string[] => Object.entries(t).map(([k, v]) => `${k}=${v}`);
export const pill = (s: string) => html`<span class=${`pill ${s}`}>${s.replace('_', ' ')}</span>`;
