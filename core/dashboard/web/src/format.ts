// Display formatting. Pure functions; "–" stands for a missing value.

import type { Epoch } from './types';

export const DASH = '–';

export function num(v: number | null | undefined, digits = 0): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function bytes(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let x = v;
  let i = 0;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

// CPU as PgDog reports it: a percentage of one core (may exceed 100).
export function cpu(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  return `${v.toFixed(1)} %`;
}

// "4 s", "3 min 20 s", "2 h 5 min", "3 d 4 h".
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return DASH;
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function ago(tsMs: number | null | undefined, nowMs: number): string {
  if (tsMs === null || tsMs === undefined || !Number.isFinite(tsMs)) return DASH;
  return `${duration(Math.max(0, nowMs - tsMs))} ago`;
}

export function clock(tsMs: number | null | undefined): string {
  if (tsMs === null || tsMs === undefined || !Number.isFinite(tsMs)) return DASH;
  const d = new Date(tsMs);
  return d.toLocaleTimeString('en-GB', { hour12: false });
}

export function dateTime(tsMs: number | null | undefined): string {
  if (tsMs === null || tsMs === undefined || !Number.isFinite(tsMs)) return DASH;
  const d = new Date(tsMs);
  return `${d.toLocaleDateString('en-CA')} ${d.toLocaleTimeString('en-GB', { hour12: false })}`;
}

export function epoch(e: Epoch | undefined): string {
  if (e === null || e === undefined || e === '') return DASH;
  if (typeof e === 'string' || typeof e === 'number') return String(e);
  const scope = e.scope ?? '';
  const term = e.term ?? '';
  return scope ? `${scope}:${term}` : String(term);
}
