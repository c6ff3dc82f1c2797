// The error banner (role=alert) and the polite announcer (aria-live) for
// state changes. The banner says what failed and what to do about it.

import { ApiError } from './api';
import { byId, setText } from './dom';

const banner = () => byId('banner');

export function showError(err: unknown, context: 'read' | 'write'): void {
  const b = banner();
  let text: string;
  let kind = 'error';
  if (err instanceof ApiError) {
    switch (err.status) {
      case 401:
        text = context === 'write'
          ? 'Issuing commands needs an admin token: enter it in "Token" above.'
          : 'Reading fleet data needs a token (it includes query text and telemetry): ' +
            'enter a read or admin token in "Token" above.';
        if (err.message) text += ` (${err.message})`;
        break;
      case 403:
        text = context === 'write'
          ? `This token may not issue commands (${err.message}): enter an admin token above.`
          : `This token may not read here (${err.message}): enter a read or admin token above.`;
        break;
      case 503:
        if (err.code === 'not_leader') {
          kind = 'warning';
          text = `This replica is not the leader; holder ${err.holder || 'unknown (no leader yet)'}` +
            (err.leaderAddress ? ` at ${err.leaderAddress}` : '') + '. Retrying every 2 s…';
        } else {
          text = `The control plane is unavailable (HTTP 503): ${err.message}. Retrying every 2 s…`;
        }
        break;
      case 0:
        kind = 'warning';
        text = `Cannot reach the control plane (${err.message}). Retrying every 2 s…`;
        break;
      default:
        text = `${err.message} (HTTP ${err.status}, ${err.code})`;
    }
  } else {
    text = `Unexpected error: ${err instanceof Error ? err.message : String(err)}`;
  }
  b.dataset.kind = kind;
  setText(b, text);
  b.hidden = false;
}

export function clearError(): void {
  const b = banner();
  if (!b.hidden) {
    b.hidden = true;
    b.textContent = '';
  }
}

export function announce(text: string): void {
  const a = byId('announcer');
  // Re-setting identical text is not announced again; append a zero-width
  // change so repeated messages are still read.
  a.textContent = a.textContent === text ? `${text}\u200b` : text;
}
