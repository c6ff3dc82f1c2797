// The leader panel: which replica serves this page, its fencing epoch, since
// when it leads, when the backend last confirmed the lease, which backend.

import type { ApiError } from './api';
import { byId, setText } from './dom';
import * as fmt from './format';
import type { Control } from './types';

export function renderLeader(c: Control, nowMs: number): void {
  const who = c.identity + (c.role === 'leader' ? '' : ` (${c.role}; holder ${c.holder || 'none'})`);
  setText(byId('leader-identity'), who);
  byId('leader-identity').title = c.advertise_address ? `advertised at ${c.advertise_address}` : '';
  setText(byId('leader-epoch'), fmt.epoch(c.epoch));
  setText(byId('leader-since'),
    c.leader_since_ms ? `${fmt.dateTime(c.leader_since_ms)} (${fmt.ago(c.leader_since_ms, nowMs)})` : fmt.DASH);
  setText(byId('leader-renew'),
    c.last_renew_age_ms === null || c.last_renew_age_ms === undefined
      ? 'n/a' : `${fmt.duration(c.last_renew_age_ms)} ago`);
  const b = c.backend ?? { name: '', version: '' };
  setText(byId('leader-backend'), `${b.name || fmt.DASH}${b.version ? ' ' + b.version : ''}`);
  byId('leader').dataset.state = 'leader';
}

// A follower answers 503 not_leader: show who holds the lease instead.
export function renderNotLeader(err: ApiError): void {
  setText(byId('leader-identity'), `not this replica; holder ${err.holder || 'unknown'}`);
  for (const id of ['leader-epoch', 'leader-since', 'leader-renew', 'leader-backend']) {
    setText(byId(id), fmt.DASH);
  }
  byId('leader').dataset.state = 'follower';
}
