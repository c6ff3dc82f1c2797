// Command buttons (one per registered kind) with a target selector, and the
// commands table with per-node delivery and acknowledgement state. State
// changes of commands issued from this page are announced (aria-live).

import { announce } from './banner';
import { byId, el, KeyedRows, setText } from './dom';
import * as fmt from './format';
import type { Command, CommandKind, NodeDelivery, TrimmedPending } from './types';

const STATE_MARK: Record<string, string> = {
  pending: '…',
  delivered: '→',
  acknowledged: '✓',
  failed: '✗',
  expired: '⌛',
  no_targets: '∅',
};

// The overall state when the API does not give one: no_targets without
// nodes, failed if any node failed, acknowledged when all did, delivered when
// any got it.
export function overallState(c: Command): string {
  if (c.state) return c.state;
  if (!c.nodes.length) return 'no_targets';
  const s = c.nodes.map((n) => n.state);
  if (s.includes('failed')) return 'failed';
  if (s.length && s.every((x) => x === 'acknowledged')) return 'acknowledged';
  if (s.some((x) => x === 'delivered' || x === 'acknowledged')) return 'delivered';
  return 'pending';
}

function describeTarget(target: string): string {
  return target === '*' ? 'all nodes' : target;
}

export class CommandsPanel {
  private kinds: string[] = [];
  private rows: KeyedRows<Command>;
  private lastState = new Map<string, string>();  // command id -> overall state
  private watched = new Set<string>();  // ids issued from this page

  constructor(private readonly onIssue: (name: string, target: string) => Promise<Command | null>) {
    const tbody = byId<HTMLTableElement>('commands').tBodies[0];
    this.rows = new KeyedRows<Command>(tbody, () => this.create(), (r, c) => this.update(r, c));
  }

  setKinds(kinds: CommandKind[]): void {
    const names = kinds.map((k) => k.name);
    if (names.join('\n') === this.kinds.join('\n')) return;
    this.kinds = names;
    const group = byId('command-buttons');
    group.replaceChildren(
      ...kinds.map((k) => {
        const b = el('button', { type: 'button', class: 'command', 'data-kind': k.name, title: k.description },
          k.name.replace(/_/g, ' '));
        b.addEventListener('click', () => void this.issue(b, k.name));
        return b;
      }),
    );
  }

  // Keeps the user's choice when the node list changes; a vanished node
  // falls back to the whole deployment.
  setTargets(nodeIds: string[]): void {
    const select = byId<HTMLSelectElement>('target');
    const current = select.value || '*';
    const want = ['*', ...nodeIds];
    const have = Array.from(select.options).map((o) => o.value);
    if (want.join('\n') !== have.join('\n')) {
      select.replaceChildren(
        ...want.map((v) => el('option', { value: v }, v === '*' ? 'Whole deployment' : `Node ${v}`)));
    }
    select.value = want.includes(current) ? current : '*';
  }

  render(commands: Command[], nowMs: number, trimmed?: TrimmedPending): void {
    this.now = nowMs;
    this.rows.render(commands, (c) => c.id);
    byId('commands-empty').hidden = commands.length > 0;
    // Never silent: commands that left the history before every node
    // acknowledged them.
    const notice = byId('commands-trimmed');
    const latest = trimmed?.recent[0];
    notice.hidden = !trimmed || trimmed.total === 0 || !latest;
    if (trimmed && latest) {
      setText(notice, `${trimmed.total} command${trimmed.total === 1 ? '' : 's'} left the history ` +
        `(api.commands.history) before every node acknowledged ${trimmed.total === 1 ? 'it' : 'them'}; ` +
        `latest: #${latest.seq} ${latest.name}, ${latest.open_nodes} node` +
        `${latest.open_nodes === 1 ? '' : 's'} had not acknowledged.`);
    }
    for (const c of commands) {
      const state = overallState(c);
      const before = this.lastState.get(c.id);
      if (before !== undefined && before !== state && this.watched.has(c.id)) {
        announce(`Command ${c.name} #${c.seq} to ${describeTarget(c.target)}: ${state}.`);
      }
      this.lastState.set(c.id, state);
    }
  }

  private now = Date.now();

  private async issue(button: HTMLButtonElement, name: string): Promise<void> {
    const target = byId<HTMLSelectElement>('target').value || '*';
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      const c = await this.onIssue(name, target);
      if (c) {
        this.watched.add(c.id);
        announce(`Issued ${name} #${c.seq} to ${describeTarget(target)}: ${overallState(c)}.`);
      }
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
      button.focus();
    }
  }

  private create(): HTMLTableRowElement {
    return el('tr', {}, el('td', { class: 'num' }), el('th', { scope: 'row' }), el('td'), el('td'),
      el('td'), el('td'));
  }

  private update(row: HTMLTableRowElement, c: Command): void {
    const state = overallState(c);
    row.dataset.command = c.id;
    row.dataset.state = state;
    setText(row.cells[0], String(c.seq));
    setText(row.cells[1], c.name);
    setText(row.cells[2], c.target === '*' ? 'all' : c.target);
    setText(row.cells[3], fmt.clock(c.issued_at_ms));
    row.cells[3].title = `${fmt.dateTime(c.issued_at_ms)} (${fmt.ago(c.issued_at_ms, this.now)})`;
    setText(row.cells[4], `${STATE_MARK[state] ?? ''} ${state}`.trim());
    row.cells[4].className = `state state-${state}`;
    this.renderDeliveries(row.cells[5], c.nodes);
  }

  // A summary ("2/3 acknowledged") and one chip per node; the chip's text
  // names the node and its state (a visually hidden suffix for screen
  // readers), its title adds the result and the time.
  private renderDeliveries(cell: HTMLTableCellElement, nodes: NodeDelivery[]): void {
    const key = JSON.stringify(nodes.map((n) => [n.node, n.state, n.result]));
    if (cell.dataset.key === key) return;
    cell.dataset.key = key;
    cell.className = 'per-node';
    if (!nodes.length) {
      cell.replaceChildren(fmt.DASH);
      return;
    }
    const acked = nodes.filter((n) => n.state === 'acknowledged').length;
    cell.replaceChildren(
      el('div', { class: 'deliveries-summary' }, `${acked}/${nodes.length} acknowledged`),
      el('ul', { class: 'deliveries' },
        ...nodes.map((n) => {
          const when = n.acked_at_ms ?? n.delivered_at_ms;
          const result = n.result ? ` (${n.result.status}${n.result.message ? ': ' + n.result.message : ''})` : '';
          return el('li', {
            class: `state-${n.state}`,
            'data-node': n.node,
            'data-state': n.state,
            title: `${n.node}: ${n.state}${result}${when ? ' at ' + fmt.dateTime(when) : ''}`,
          }, `${n.node} `, el('span', { 'aria-hidden': 'true' }, STATE_MARK[n.state] ?? ''),
          el('span', { class: 'visually-hidden' }, `: ${n.state}${result}`));
        })),
    );
  }
}
