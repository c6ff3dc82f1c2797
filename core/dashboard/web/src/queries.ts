// The selected node's latest uploads: active queries, query statistics and
// errors. Entries are flat objects whose fields PgDog chooses, so the tables
// take their columns from the data (`query` / `message` first) and show the
// values as given, at most MAX_ROWS per table.

import { byId, el, setText } from './dom';
import * as fmt from './format';
import type { FlatEntry, NodeDetail } from './types';

const MAX_ROWS = 20;

interface TableSpec {
  id: string;
  title: string;
  entries: (d: NodeDetail) => FlatEntry[];
  at: (d: NodeDetail) => number | null;
  first: string;
}

const TABLES: TableSpec[] = [
  { id: 'active', title: 'Active queries', entries: (d) => d.active_queries ?? [],
    at: (d) => d.active_queries_at_ms, first: 'query' },
  { id: 'stats', title: 'Query statistics', entries: (d) => d.query_stats ?? [],
    at: (d) => d.query_stats_at_ms, first: 'query' },
  { id: 'errors', title: 'Errors', entries: (d) => d.errors ?? [],
    at: (d) => d.errors_at_ms, first: 'message' },
];

function columns(entries: FlatEntry[], first: string): string[] {
  const keys = new Set<string>();
  for (const e of entries.slice(0, MAX_ROWS)) for (const k of Object.keys(e)) keys.add(k);
  keys.delete(first);
  return [first, ...keys];
}

// Timestamps (*_at_ms, *_ms values that look like epochs) as date and time.
function cell(key: string, v: FlatEntry[string] | undefined): string {
  if (v === null || v === undefined) return fmt.DASH;
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') {
    if (key.endsWith('_ms') && v > 1e12) return fmt.dateTime(v);
    return fmt.num(v, 2);
  }
  return v;
}

export class QueriesPanel {
  private keys = new Map<string, string>();  // table id -> rendered data, to skip no-op redraws

  constructor() {
    const host = byId('queries');
    host.replaceChildren(
      ...TABLES.map((t) =>
        el('div', { class: 'query-table', id: `queries-${t.id}` },
          el('h3', { id: `queries-${t.id}-heading` }, t.title, ' ', el('span', { class: 'muted' })),
          el('div', { class: 'table-wrap' }),
        )),
    );
    this.show(null);
  }

  show(detail: NodeDetail | null): void {
    byId('queries-section').hidden = detail === null;
    if (!detail) {
      this.keys.clear();
      return;
    }
    setText(byId('queries-node'), `of ${detail.id}`);
    for (const t of TABLES) this.renderTable(t, detail);
  }

  private renderTable(t: TableSpec, d: NodeDetail): void {
    const entries = t.entries(d);
    const at = t.at(d);
    const box = byId(`queries-${t.id}`);
    const note = box.querySelector('h3 span') as HTMLElement;
    setText(note, at ? `${entries.length} at ${fmt.clock(at)}` : 'none uploaded yet');
    const key = JSON.stringify(entries.slice(0, MAX_ROWS)) + entries.length;
    if (this.keys.get(t.id) === key) return;
    this.keys.set(t.id, key);
    const wrap = box.querySelector('.table-wrap') as HTMLElement;
    if (!entries.length) {
      wrap.replaceChildren(el('p', { class: 'muted' }, at ? 'Empty.' : ''));
      return;
    }
    const cols = columns(entries, t.first);
    const shown = entries.slice(0, MAX_ROWS);
    const table = el('table', { 'aria-labelledby': `queries-${t.id}-heading` },
      el('thead', {}, el('tr', {}, ...cols.map((c) => el('th', { scope: 'col' }, c)))),
      el('tbody', {}, ...shown.map((e) =>
        el('tr', {}, ...cols.map((c, i) => {
          const text = cell(c, e[c]);
          const attrs: Record<string, string> = i === 0 ? { class: 'text', title: text } : {};
          if (i > 0 && typeof e[c] === 'number') attrs.class = 'num';
          return el('td', attrs, text);
        })))),
    );
    const more = entries.length > shown.length
      ? [el('p', { class: 'muted' }, `${entries.length - shown.length} more not shown.`)] : [];
    wrap.replaceChildren(table, ...more);
  }
}
