// The replicas panel: every replica of the control plane (GET
// /api/web/members, answered by any replica) with its role, address,
// version, backend, eligibility and heartbeat, and a "Make leader" button
// per eligible, fresh follower (POST /api/web/leadership/switchover; needs an
// admin token, like issuing commands).

import { byId, el, KeyedRows, setText } from './dom';
import * as fmt from './format';
import type { Member, Members } from './types';

export class ReplicasPanel {
  private rows: KeyedRows<Member>;
  private canSwitch = false;
  private busy = false;

  constructor(private readonly onSwitchover: (to: string) => Promise<boolean>) {
    const tbody = byId<HTMLTableElement>('replicas').tBodies[0];
    this.rows = new KeyedRows<Member>(tbody, () => this.create(), (r, m) => this.update(r, m));
  }

  render(m: Members): void {
    this.canSwitch = m.switchover_supported;
    this.rows.render(m.members, (x) => x.identity);
    const stale = m.members.filter((x) => x.stale).length;
    setText(byId('replicas-summary'),
      `(${m.members.length} replica${m.members.length === 1 ? '' : 's'}` +
      (stale ? `, ${stale} stale` : '') + ')');
    const note = byId('replicas-note');
    note.hidden = m.members_supported;
    setText(note, m.members_supported ? '' :
      'The coordination plugin does not list replicas: only this one is shown.');
    byId('replicas-error').hidden = true;
  }

  // The list could not be read (the backend did not answer, or a token is
  // missing): said in the panel, the rest of the page is unaffected.
  showError(message: string): void {
    const e = byId('replicas-error');
    setText(e, message);
    e.hidden = false;
  }

  private create(): HTMLTableRowElement {
    return el('tr', {}, el('th', { scope: 'row' }), el('td'), el('td'), el('td'), el('td'), el('td'),
      el('td', { class: 'num' }), el('td'));
  }

  private update(row: HTMLTableRowElement, m: Member): void {
    row.dataset.member = m.identity;
    row.dataset.role = m.role;
    setText(row.cells[0], m.identity + (m.self ? ' (this replica)' : ''));
    setText(row.cells[1], m.role);
    row.cells[1].className = m.role === 'leader' ? 'role-leader' : '';
    setText(row.cells[2], m.address || fmt.DASH);
    setText(row.cells[3], m.version || fmt.DASH);
    setText(row.cells[4], m.backend || fmt.DASH);
    setText(row.cells[5], m.stale ? 'stale' : m.eligible ? 'eligible' : 'not eligible');
    row.cells[5].className = m.stale ? 'status-stale' : m.eligible ? 'status-live' : 'muted';
    setText(row.cells[6], m.heartbeat_age_ms < 0 ? fmt.DASH : `${fmt.duration(m.heartbeat_age_ms)} ago`);
    const action = row.cells[7];
    const want = this.canSwitch && m.role === 'follower' && m.eligible && !m.stale;
    const have = action.querySelector('button');
    if (want && !have) {
      const b = el('button', { type: 'button', class: 'command', title: `Hand the leadership over to ${m.identity}` },
        'Make leader');
      b.addEventListener('click', () => void this.switchover(b, m.identity));
      action.replaceChildren(b);
    } else if (!want && have) {
      action.replaceChildren();
    }
  }

  private async switchover(button: HTMLButtonElement, to: string): Promise<void> {
    if (this.busy) return;
    if (!window.confirm(`Hand the leadership over to ${to}? The current leader stops serving first.`)) return;
    this.busy = true;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      await this.onSwitchover(to);
    } finally {
      this.busy = false;
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }
}
