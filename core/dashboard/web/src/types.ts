// The web API's response shapes (docs/api.md, /api/web/). Times are Unix
// milliseconds (*_ms) or durations in ms. Fields the dashboard does not use
// are left out; optional ones are typed as such so a missing field renders
// as "–" instead of breaking the page.

export type Epoch = string | number | { scope?: string; term?: number | string } | null;

export interface Control {
  identity: string;
  role: string;
  ready: boolean;
  holder: string;
  epoch: Epoch;
  leader_since_ms: number | null;
  last_renew_age_ms: number | null;
  backend: { name: string; version: string };
  lease?: { name?: string; duration_secs?: number; interval_secs?: number };
  advertise_address?: string;
}

export interface DeploymentSummary {
  name: string;
  nodes: { total: number; live: number; stale: number };
}

export interface MetricPoint {
  ts_ms: number;
  clients: number;
  servers: number;
  pools?: number;
  qps: number;
  tps: number;
  cpu: number;
  memory_bytes: number;
}

export interface Node {
  id: string;
  version: string;
  host: string;
  status: 'live' | 'stale' | string;
  registered_at_ms: number;
  last_seen_ms: number | null;
  latest: MetricPoint | null;
}

export interface CommandKind {
  name: string;
  description: string;
}

export type DeliveryState = 'pending' | 'delivered' | 'acknowledged' | 'failed' | string;

export interface NodeDelivery {
  node: string;
  state: DeliveryState;
  delivered_at_ms: number | null;
  acked_at_ms: number | null;
  result: { status: string; message?: string } | null;
}

// Commands dropped from the history while some node had not acknowledged
// them (GET .../commands: trimmed_pending).
export interface TrimmedPending {
  total: number;
  recent: { id: string; seq: number; name: string; open_nodes: number; trimmed_at_ms: number }[];
}

export interface CommandList {
  commands: Command[];
  trimmed_pending?: TrimmedPending;
}

export interface Command {
  id: string;
  seq: number;
  epoch: Epoch;
  name: string;
  target: string;
  args?: Record<string, unknown>;
  issued_at_ms: number;
  state?: DeliveryState | 'expired' | 'no_targets';
  nodes: NodeDelivery[];
}

// One uploaded entry (query statistic, active query, error): a flat object
// whose fields PgDog chooses; `query` or `message` is always there.
export type FlatEntry = Record<string, string | number | boolean | null>;

export interface NodeDetail extends Node {
  query_stats: FlatEntry[];
  active_queries: FlatEntry[];
  errors: FlatEntry[];
  query_stats_at_ms: number | null;
  active_queries_at_ms: number | null;
  errors_at_ms: number | null;
}

// GET /api/web/members: every replica of the control plane.
export interface Member {
  identity: string;
  role: string;  // "leader" | "follower"
  address: string;
  version: string;
  backend: string;
  eligible: boolean;
  stale: boolean;
  heartbeat_age_ms: number;  // -1: unknown
  self: boolean;
}

export interface Members {
  self: string;
  leader: string;
  members_supported: boolean;
  switchover_supported: boolean;
  members: Member[];
}

// POST /api/web/leadership/switchover
export interface Switchover {
  from: string;
  to: string;
  epoch: string;
}
