// The web API client: same-origin fetches to /api/web/, JSON in and out.
// Every failure becomes an ApiError carrying the HTTP status, the API's error
// code and, for 503 not_leader, the current holder, so the page can say what
// is wrong and what to do.

import { currentToken } from './token';
import type {
  Command, CommandKind, CommandList, Control, DeploymentSummary, Members, MetricPoint, Node, NodeDetail, Switchover,
} from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,  // 0: no HTTP response (network, timeout)
    readonly code: string,
    message: string,
    readonly holder = '',
    readonly leaderAddress = '',
  ) {
    super(message);
  }
}

const TIMEOUT_MS = 10_000;

async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = currentToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (e) {
    const timedOut = e instanceof DOMException && e.name === 'TimeoutError';
    throw new ApiError(0, timedOut ? 'timeout' : 'network',
      timedOut ? `no answer within ${TIMEOUT_MS / 1000} s` : 'cannot reach the control plane');
  }
  let data: unknown = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const d = (data ?? {}) as { error?: string; message?: string; holder?: string; leader_address?: string };
    throw new ApiError(res.status, d.error ?? `http_${res.status}`,
      d.message ?? `${method} ${path} failed with HTTP ${res.status}`, d.holder ?? '', d.leader_address ?? '');
  }
  if (data === null) throw new ApiError(res.status, 'bad_response', `${path} did not return JSON`);
  return data as T;
}

const enc = encodeURIComponent;

export const api = {
  control: () => request<Control>('GET', '/api/web/control'),
  deployments: () =>
    request<{ deployments: DeploymentSummary[] }>('GET', '/api/web/deployments').then((r) => r.deployments),
  nodes: (dep: string) =>
    request<{ nodes: Node[]; data_since_ms?: number }>('GET', `/api/web/deployments/${enc(dep)}/nodes`),
  node: (dep: string, node: string) =>
    request<NodeDetail>('GET', `/api/web/deployments/${enc(dep)}/nodes/${enc(node)}`),
  series: (dep: string, node: string, sinceMs?: number) =>
    request<{ points: MetricPoint[] }>('GET',
      `/api/web/deployments/${enc(dep)}/nodes/${enc(node)}/series` +
        (sinceMs === undefined ? '' : `?since_ms=${Math.floor(sinceMs)}`)).then((r) => r.points),
  kinds: () => request<{ kinds: CommandKind[] }>('GET', '/api/web/commands/kinds').then((r) => r.kinds),
  commands: (dep: string) =>
    request<CommandList>('GET', `/api/web/deployments/${enc(dep)}/commands?limit=50`),
  issue: (dep: string, name: string, target: string) =>
    request<Command>('POST', `/api/web/deployments/${enc(dep)}/commands`, { name, target }),
  // Any replica answers (not only the leader).
  members: () => request<Members>('GET', '/api/web/members'),
  switchover: (to: string) => request<Switchover>('POST', '/api/web/leadership/switchover', { to }),
};
