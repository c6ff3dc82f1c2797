// The nodes table: one row per PgDog node with its status and latest metrics.
// The node id is a button that selects the node for the charts
// (aria-pressed marks the selected one).

import { byId, el, KeyedRows, setText } from './dom';
import * as fmt from './format';
import type { Node } from './types';

export class NodesTable {
  private rows: KeyedRows<Node>;
  private selected = '';
  private now = Date.now();

  constructor(private readonly onSelect: (id: string) => void) {
    const tbody = byId<HTMLTableElement>('nodes').tBodies[0];
    this.rows = new KeyedRows<Node>(tbody, (n) => this.create(n), (r, n) => this.update(r, n));
  }

  // dataSinceMs: the control plane keeps telemetry from then on (a new
  // leader starts without history), so the summary says so.
  render(nodes: Node[], selected: string, nowMs: number, dataSinceMs?: number): void {
    this.selected = selected;
    this.now = nowMs;
    this.rows.render(nodes, (n) => n.id);
    byId('nodes-empty').hidden = nodes.length > 0;
    const live = nodes.filter((n) => n.status === 'live').length;
    const since = dataSinceMs ? ` · telemetry since ${fmt.clock(dataSinceMs)}` : '';
    setText(
      byId('nodes-summary'),
      nodes.length ? `${live} live, ${nodes.length - live} stale${since}` : '',
    );
  }

  private create(n: Node): HTMLTableRowElement {
    const button = el('button', { type: 'button', class: 'link', 'aria-pressed': 'false' }, n.id);
    button.addEventListener('click', () => this.onSelect(n.id));
    const cells: HTMLTableCellElement[] = [];
    const th = el('th', { scope: 'row' }, button);
    for (let i = 0; i < 10; i++) cells.push(el('td', i >= 3 ? { class: 'num' } : {}));
    const row = el('tr', { 'data-node': n.id }, th, ...cells);
    return row;
  }

  private update(row: HTMLTableRowElement, n: Node): void {
    const m = n.latest;
    const button = row.cells[0].firstElementChild as HTMLButtonElement;
    const pressed = n.id === this.selected;
    button.setAttribute('aria-pressed', String(pressed));
    button.setAttribute('aria-label', `${n.id}: show metrics`);
    row.classList.toggle('selected', pressed);
    const values = [
      n.host || fmt.DASH,
      n.version || fmt.DASH,
      n.status,
      fmt.num(m?.clients),
      fmt.num(m?.servers),
      fmt.num(m?.qps, 1),
      fmt.num(m?.tps, 1),
      fmt.cpu(m?.cpu),
      fmt.bytes(m?.memory_bytes),
      fmt.ago(n.last_seen_ms, this.now),
    ];
    values.forEach((v, i) => setText(row.cells[i + 1], v));
    const status = row.cells[3];
    status.className = `status status-${n.status === 'live' ? 'live' : 'stale'}`;
  }
}
