// The dashboard: polls the web API every 2 s while the tab is visible and
// renders the leader panel, the replicas, the nodes table, the selected node's charts and
// the commands. One refresh at a time (a timer is re-armed after each), so a
// slow control plane is never hit by overlapping polls.

import './style.css';
import { api, ApiError } from './api';
import { announce, clearError, showError } from './banner';
import { Charts } from './charts';
import { CommandsPanel } from './commands';
import { byId, el, setText } from './dom';
import * as fmt from './format';
import { renderLeader, renderNotLeader } from './leader';
import { NodesTable } from './nodes';
import { QueriesPanel } from './queries';
import { ReplicasPanel } from './replicas';
import { currentToken, setToken } from './token';
import type { Command, DeploymentSummary } from './types';

const REFRESH_MS = 2000;
const DEPLOYMENT_KEY = 'pgdog-control.deployment';
const NODE_KEY = 'pgdog-control.node';

let deployment = loadDeployment();
let kindsLoaded = false;
let paused = false;
let timer: number | undefined;
let running = false;
let again = false;  // a refresh was asked for while one was running
let lastLeaderState = '';

const charts = new Charts();
const nodes = new NodesTable((id) => {
  selectNode(charts.selectedNode === id ? '' : id);
  void refresh();
});
const commands = new CommandsPanel(issue);
const queries = new QueriesPanel();
const replicas = new ReplicasPanel(switchover);

// The deployment and node chosen last, kept for the tab (not secrets).
function load(key: string): string {
  try {
    return sessionStorage.getItem(key) ?? '';
  } catch {
    return '';
  }
}

function save(key: string, value: string): void {
  try {
    sessionStorage.setItem(key, value);
  } catch {
    /* storage disabled: the choice lasts until reload */
  }
}

function loadDeployment(): string {
  return load(DEPLOYMENT_KEY);
}

function selectNode(id: string): void {
  charts.select(id);
  save(NODE_KEY, id);
}

function renderDeployments(list: DeploymentSummary[]): void {
  const select = byId<HTMLSelectElement>('deployment');
  const names = list.map((d) => d.name);
  if (!names.includes(deployment)) deployment = names[0] ?? '';
  const labels = list.map((d) => `${d.name} (${d.nodes.live}/${d.nodes.total} live)`);
  const have = Array.from(select.options).map((o) => o.textContent ?? '');
  if (labels.join('\n') !== have.join('\n')) {
    select.replaceChildren(...list.map((d, i) => el('option', { value: d.name }, labels[i])));
  }
  if (!list.length) select.replaceChildren(el('option', { value: '' }, 'no deployment configured'));
  select.disabled = !list.length;
  select.value = deployment;
}

async function refresh(): Promise<void> {
  if (running) {
    again = true;
    return;
  }
  running = true;
  again = false;
  window.clearTimeout(timer);
  const now = Date.now();
  // Any replica answers it, so it is shown even when this one does not lead.
  const replicasDone = refreshReplicas();
  try {
    const [control, deps] = await Promise.all([api.control(), api.deployments()]);
    renderLeader(control, now);
    announceLeader(`${control.identity} leads, epoch ${fmt.epoch(control.epoch)}`);
    renderDeployments(deps);
    if (!kindsLoaded) {
      commands.setKinds(await api.kinds());
      kindsLoaded = true;
    }
    if (deployment) {
      const dep = deployment;
      const node = charts.selectedNode;
      const [nodeView, cmdList, points, detail] = await Promise.all([
        api.nodes(dep),
        api.commands(dep),
        // An evicted node is a 404: the node list below deselects it.
        node ? api.series(dep, node, charts.sinceMs).catch(notFoundAsNull) : Promise.resolve(null),
        node ? api.node(dep, node).catch(notFoundAsNull) : Promise.resolve(null),
      ]);
      if (dep !== deployment) {
        again = true;  // the user switched deployments meanwhile: render the new one
        return;
      }
      const nodeList = nodeView.nodes;
      if (node && !nodeList.some((n) => n.id === node)) selectNode('');
      else if (points && charts.selectedNode === node) charts.append(points);
      queries.show(charts.selectedNode && charts.selectedNode === node ? detail : null);
      nodes.render(nodeList, charts.selectedNode, Date.now(), nodeView.data_since_ms);
      commands.setTargets(nodeList.map((n) => n.id));
      commands.render(cmdList.commands, Date.now(), cmdList.trimmed_pending);
    } else {
      queries.show(null);
      nodes.render([], '', now);
      commands.render([], now);
    }
    clearError();
    setText(byId('updated'), `updated ${fmt.clock(Date.now())}`);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'not_leader') {
      renderNotLeader(err);
      announceLeader(`this replica is not the leader; holder ${err.holder || 'unknown'}`);
    }
    showError(err, 'read');
  } finally {
    await replicasDone;
    running = false;
    if (again) void refresh();
    else schedule();
  }
}

async function refreshReplicas(): Promise<void> {
  try {
    replicas.render(await api.members());
  } catch (err) {
    replicas.showError(err instanceof ApiError
      ? `Replicas cannot be listed: ${err.message} (HTTP ${err.status})`
      : `Replicas cannot be listed: ${String(err)}`);
  }
}

async function switchover(to: string): Promise<boolean> {
  try {
    const r = await api.switchover(to);
    clearError();
    announce(`Leadership handed over from ${r.from} to ${r.to}.`);
    void refresh();
    return true;
  } catch (err) {
    showError(err, 'write');
    return false;
  }
}

function notFoundAsNull(err: unknown): null {
  if (err instanceof ApiError && err.status === 404) return null;
  throw err;
}

function announceLeader(state: string): void {
  if (state !== lastLeaderState && lastLeaderState !== '') announce(state);
  lastLeaderState = state;
}

function schedule(): void {
  window.clearTimeout(timer);
  if (!paused && !document.hidden) timer = window.setTimeout(() => void refresh(), REFRESH_MS);
}

async function issue(name: string, target: string): Promise<Command | null> {
  if (!deployment) return null;
  try {
    const c = await api.issue(deployment, name, target);
    clearError();
    void refresh();
    return c;
  } catch (err) {
    showError(err, 'write');
    return null;
  }
}

function renderTokenState(): void {
  setText(byId('token-state'), currentToken() ? 'token set for this tab' : 'no token');
}

function wire(): void {
  byId<HTMLSelectElement>('deployment').addEventListener('change', (e) => {
    deployment = (e.target as HTMLSelectElement).value;
    save(DEPLOYMENT_KEY, deployment);
    selectNode('');
    void refresh();
  });
  byId<HTMLFormElement>('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = byId<HTMLInputElement>('token');
    const value = input.value.trim();
    if (value) setToken(value);
    input.value = '';
    renderTokenState();
    announce(value ? 'Token set for this tab.' : 'Token unchanged: the field was empty.');
    void refresh();
  });
  byId('token-forget').addEventListener('click', () => {
    setToken('');
    byId<HTMLInputElement>('token').value = '';
    renderTokenState();
    announce('Token forgotten.');
  });
  const pause = byId<HTMLButtonElement>('pause');
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    setText(pause, paused ? 'Resume refresh' : 'Pause refresh');
    if (paused) window.clearTimeout(timer);
    else void refresh();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) window.clearTimeout(timer);
    else if (!paused) void refresh();
  });
}

wire();
charts.select(load(NODE_KEY));
renderTokenState();
void refresh();
