// Minimal DOM helpers: everything the page shows goes through textContent,
// never innerHTML, so data from the fleet cannot inject markup.

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return el as T;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

// Sets text only when it changed (keeps screen readers and selection calm).
export function setText(e: Element, text: string): void {
  if (e.textContent !== text) e.textContent = text;
}

// Keyed table body reconciliation: rows are created once per key, updated in
// place and removed when their key disappears, in the order of `keys`. Focus
// inside a row (e.g. on its button) survives a refresh.
export class KeyedRows<T> {
  private rows = new Map<string, HTMLTableRowElement>();

  constructor(
    private readonly tbody: HTMLTableSectionElement,
    private readonly create: (item: T) => HTMLTableRowElement,
    private readonly update: (row: HTMLTableRowElement, item: T) => void,
  ) {}

  render(items: T[], key: (item: T) => string): void {
    const seen = new Set<string>();
    let prev: HTMLTableRowElement | null = null;
    for (const item of items) {
      const k = key(item);
      seen.add(k);
      let row = this.rows.get(k);
      if (!row) {
        row = this.create(item);
        this.rows.set(k, row);
      }
      this.update(row, item);
      const want: ChildNode | null = prev ? prev.nextSibling : this.tbody.firstChild;
      if (want !== row) this.tbody.insertBefore(row, want);
      prev = row;
    }
    for (const [k, row] of this.rows) {
      if (!seen.has(k)) {
        row.remove();
        this.rows.delete(k);
      }
    }
  }

  clear(): void {
    this.render([], () => '');
  }
}
