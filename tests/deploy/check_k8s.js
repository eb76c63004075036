'use strict';
// Renders every kustomization of k8s/ (base/ and each overlays/*) with `kubectl kustomize`,
// validates every object offline against the Kubernetes OpenAPI schemas (npm kubernetes-models),
// and checks what the deployment promises (k8s/README.md):
//  - every container: native gRPC readiness and liveness probes on a declared port, the hardened
//    securityContext, CPU and memory requests and limits;
//  - every StatefulSet: one replica (one SQLite writer) with a ReadWriteOnce volume at --data_dir,
//    or, with --database (PostgreSQL, overlays/ha), at least 2 replicas whose database URI comes
//    from a Secret (an environment variable from a secretKeyRef: CloudNativePG's app Secret of a
//    rendered Cluster, or a documented one) and evaluators that advertise their address on the
//    gRPC port and may call each other; terminationGracePeriodSeconds above --shutdown_grace, a
//    PodDisruptionBudget, a Service and a NetworkPolicy that select its pods, no service-account
//    token;
//  - CloudNativePG Clusters (no OpenAPI schema offline: checked field by field): at least 2
//    instances, a synchronous standby, storage, a bootstrap database and owner;
//  - the flags, assembled from the ConfigMap flag files named by --flagfile: each one known to
//    vlad, every file flag pointing into a mounted Secret, ports matching the container's ports,
//    peer addresses naming a Service of the workload that hosts that peer, each service hosted
//    exactly once, the readiness probe asking for a hosted service;
//  - NetworkPolicies: a workload may reach another exactly when it calls it (--vmdb_address,
//    --evaluator_address).
// With --self-test it also breaks a rendered overlay in each of those ways and checks that each
// break is reported.
//
// Usage: node check_k8s.js --k8s DIR --modules NODE_MODULES --vlad PATH [--kubectl PATH]
//                          [--self-test]
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

function parseArgs(argv) {
  const args = { kubectl: 'kubectl', selfTest: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--self-test') args.selfTest = true;
    else if (['--k8s', '--modules', '--vlad', '--kubectl'].includes(a)) args[a.slice(2)] = argv[++i];
    else throw new Error(`unknown argument ${a}`);
  }
  for (const k of ['k8s', 'modules', 'vlad']) {
    if (!args[k]) throw new Error(`--${k} is required`);
  }
  args.modules = path.resolve(args.modules);
  return args;
}

const args = parseArgs(process.argv.slice(2));
if (!fs.existsSync(path.join(args.modules, 'kubernetes-models'))) {
  console.error(`FAIL: no kubernetes-models under ${args.modules}: run scripts/setup.sh`);
  process.exit(1);
}
const YAML = require(path.join(args.modules, 'yaml'));
const modelsDir = path.join(args.modules, 'kubernetes-models');

// Flags that other branches add to vlad; tolerated while this build's vlad lacks them.
// Flags the manifests may use before vlad has them (none now: every flag must exist).
const PENDING_FLAGS = new Set([]);
// Flags naming files that must come from a mounted Secret.
const SECRET_FILE_FLAGS = ['tls_cert', 'tls_key', 'tls_client_ca', 'auth_tokens_file', 'peer_token_file'];
// Secrets the platform engineer creates (k8s/README.md); referenced, never rendered.
const EXTERNAL_SECRETS = new Set(['vla-tls', 'vla-auth']);
const SERVICES = ['vmdb', 'evaluator', 'okr-status'];
// Flag of a peer address -> the service it must reach.
const PEER_FLAGS = { vmdb_address: 'vmdb', evaluator_address: 'evaluator' };

function vladFlags(vlad) {
  let help;
  try {
    help = execFileSync(vlad, ['--helpfull'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    help = String(e.stdout || '') + String(e.stderr || ''); // absl exits 1 after --helpfull
  }
  const flags = new Set();
  for (const m of help.matchAll(/^\s+--([A-Za-z0-9_]+) \(/gm)) flags.add(m[1]);
  if (!flags.has('listen')) throw new Error(`${vlad} --helpfull lists no --listen`);
  return flags;
}

function render(kubectl, dir) {
  const out = execFileSync(kubectl, ['kustomize', dir], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20,
  });
  return YAML.parseAllDocuments(out).map((d) => {
    if (d.errors.length) throw new Error(`${dir}: YAML: ${d.errors[0].message}`);
    return d.toJS();
  }).filter((o) => o);
}

// Custom resources the manifests render, checked by hand (their CRDs' schemas are not offline).
const CUSTOM_KINDS = {
  'postgresql.cnpg.io/v1/Cluster': (o) => {
    const errors = [];
    const spec = o.spec || {};
    const known = ['instances', 'imageName', 'minSyncReplicas', 'maxSyncReplicas',
      'primaryUpdateStrategy', 'postgresql', 'bootstrap', 'storage', 'resources', 'affinity',
      'monitoring', 'backup', 'superuserSecret', 'enableSuperuserAccess'];
    for (const k of Object.keys(spec)) if (!known.includes(k)) errors.push(`unknown field spec.${k}`);
    if (!Number.isInteger(spec.instances) || spec.instances < 2) {
      errors.push(`spec.instances must be an integer of at least 2 (high availability), not ${spec.instances}`);
    }
    if (!(spec.minSyncReplicas >= 1)) {
      errors.push('spec.minSyncReplicas must be at least 1 (an acknowledged commit survives the primary)');
    }
    if (!(spec.maxSyncReplicas >= spec.minSyncReplicas) || spec.maxSyncReplicas >= spec.instances) {
      errors.push('spec.maxSyncReplicas must be in [minSyncReplicas, instances)');
    }
    if (typeof (spec.storage || {}).size !== 'string') errors.push('spec.storage.size is required');
    const initdb = (spec.bootstrap || {}).initdb || {};
    for (const k of ['database', 'owner']) {
      if (typeof initdb[k] !== 'string' || !initdb[k]) errors.push(`spec.bootstrap.initdb.${k} is required`);
    }
    for (const [k, v] of Object.entries((spec.postgresql || {}).parameters || {})) {
      if (typeof v !== 'string') errors.push(`spec.postgresql.parameters.${k} must be a string`);
    }
    return errors;
  },
};

function schemaErrors(obj) {
  const where = `${obj.kind}/${obj.metadata && obj.metadata.name}`;
  const custom = CUSTOM_KINDS[`${obj.apiVersion}/${obj.kind}`];
  if (custom) return custom(obj).map((e) => `${where}: ${e}`);
  let mod;
  try {
    mod = require(path.join(modelsDir, obj.apiVersion));
  } catch (e) {
    return [`${where}: no schema for apiVersion ${obj.apiVersion}`];
  }
  const Model = mod[obj.kind];
  if (!Model) return [`${where}: no schema for kind ${obj.kind} in ${obj.apiVersion}`];
  const copy = JSON.parse(JSON.stringify(obj));
  if (obj.kind === 'Secret') {
    // kustomize folds long base64 values; the API server's decoder skips the line breaks.
    for (const k of Object.keys(copy.data || {})) copy.data[k] = copy.data[k].replace(/\s+/g, '');
  }
  try {
    new Model(copy).validate();
    return [];
  } catch (e) {
    return [`${where}: schema: ${e.message}`];
  }
}

function matches(selector, labels) {
  if (!selector) return false;
  if (selector.matchExpressions && selector.matchExpressions.length) {
    throw new Error('matchExpressions are not supported by this check');
  }
  return Object.entries(selector.matchLabels || {}).every(([k, v]) => (labels || {})[k] === v);
}

function durationSeconds(s) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s || '');
  if (!m) return NaN;
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
}

function portOf(address) {
  const m = /:(\d+)$/.exec(address || '');
  return m ? Number(m[1]) : NaN;
}

// The flags a container runs with: its args, --flagfile files expanded from the rendered
// ConfigMaps they are mounted from. Returns {flags: Map, errors: []}.
function containerFlags(c, pod, byKind, where) {
  const errors = [];
  const flags = new Map();
  const lines = [];
  for (const arg of c.args || []) {
    const m = /^--flagfile=(.*)$/.exec(arg);
    if (!m) { lines.push(arg); continue; }
    for (const file of m[1].split(',')) {
      const mount = (c.volumeMounts || []).find((vm) => path.dirname(file) === vm.mountPath);
      const vol = mount && (pod.volumes || []).find((v) => v.name === mount.name);
      const cm = vol && vol.configMap &&
        (byKind.ConfigMap || []).find((o) => o.metadata.name === vol.configMap.name);
      const text = cm && cm.data && cm.data[path.basename(file)];
      if (text === undefined) {
        errors.push(`${where}: --flagfile ${file} is not a key of a rendered ConfigMap mounted there`);
        continue;
      }
      lines.push(...text.split('\n'));
    }
  }
  for (let line of lines) {
    line = line.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^--([A-Za-z0-9_]+)(?:=(.*))?$/.exec(line);
    if (!m) { errors.push(`${where}: not a flag: ${line}`); continue; }
    flags.set(m[1], m[2] === undefined ? 'true' : m[2]);
  }
  return { flags, errors };
}

function checkRender(name, objs, known, notes) {
  const errors = [];
  const byKind = {};
  for (const o of objs) (byKind[o.kind] = byKind[o.kind] || []).push(o);
  for (const o of objs) errors.push(...schemaErrors(o));

  const workloads = [...(byKind.StatefulSet || []), ...(byKind.Deployment || [])];
  if (!workloads.length) errors.push(`${name}: no StatefulSet or Deployment`);
  const hosted = new Map(); // service -> workload
  const info = []; // {w, labels, flags}
  for (const w of workloads) {
    const where = `${name}: ${w.kind}/${w.metadata.name}`;
    const pod = w.spec.template.spec;
    const labels = w.spec.template.metadata.labels;
    const psc = pod.securityContext || {};
    if (pod.automountServiceAccountToken !== false) {
      errors.push(`${where}: automountServiceAccountToken must be false`);
    }
    if (!(pod.containers || []).length) errors.push(`${where}: no containers`);
    for (const c of pod.containers || []) {
      const cw = `${where} container ${c.name}`;
      const sc = c.securityContext || {};
      const ports = new Map((c.ports || []).map((p) => [p.containerPort, p.name]));
      for (const probe of ['readinessProbe', 'livenessProbe']) {
        const p = c[probe];
        if (!p || !p.grpc) errors.push(`${cw}: no native gRPC ${probe}`);
        else if (!ports.has(p.grpc.port)) {
          errors.push(`${cw}: ${probe} port ${p.grpc.port} is not a container port`);
        }
      }
      if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) errors.push(`${cw}: runAsNonRoot is not true`);
      if (sc.readOnlyRootFilesystem !== true) errors.push(`${cw}: readOnlyRootFilesystem is not true`);
      if (sc.allowPrivilegeEscalation !== false) {
        errors.push(`${cw}: allowPrivilegeEscalation is not false`);
      }
      if (!((sc.capabilities || {}).drop || []).includes('ALL')) {
        errors.push(`${cw}: capabilities do not drop ALL`);
      }
      if (((sc.seccompProfile || psc.seccompProfile || {}).type) !== 'RuntimeDefault') {
        errors.push(`${cw}: seccompProfile is not RuntimeDefault`);
      }
      for (const kind of ['requests', 'limits']) {
        for (const r of ['cpu', 'memory']) {
          if (!((c.resources || {})[kind] || {})[r]) errors.push(`${cw}: no resources.${kind}.${r}`);
        }
      }

      const { flags, errors: flagErrors } = containerFlags(c, pod, byKind, cw);
      errors.push(...flagErrors);
      for (const f of flags.keys()) {
        if (known.has(f)) continue;
        if (PENDING_FLAGS.has(f)) notes.add(`--${f} is not in this build's vlad yet (pending)`);
        else errors.push(`${cw}: unknown flag --${f} (not in vlad --helpfull)`);
      }
      const grace = durationSeconds(flags.get('shutdown_grace') || '10s');
      if (!(pod.terminationGracePeriodSeconds > grace)) {
        errors.push(`${cw}: terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} ` +
                    `is not above --shutdown_grace ${flags.get('shutdown_grace') || '10s'}`);
      }
      for (const [flag, port] of [['listen', 'grpc'], ['metrics_listen', 'metrics']]) {
        if (flags.has(flag) && ports.get(portOf(flags.get(flag))) !== port) {
          errors.push(`${cw}: --${flag}=${flags.get(flag)} is not the container port named ${port}`);
        }
      }
      if (flags.has('health_listen')) {
        const hp = portOf(flags.get('health_listen'));
        for (const probe of ['readinessProbe', 'livenessProbe']) {
          if (c[probe] && c[probe].grpc && c[probe].grpc.port !== hp) {
            errors.push(`${cw}: ${probe} port is not --health_listen's ${hp}`);
          }
        }
      }
      const shared = flags.has('database');
      if (!shared) {
        if (w.kind === 'StatefulSet' && w.spec.replicas !== 1) {
          errors.push(`${where}: replicas must be 1 (one SQLite writer per volume), not ${w.spec.replicas}`);
        }
        const dataMount = (c.volumeMounts || []).find((vm) => vm.mountPath === flags.get('data_dir'));
        const claim = dataMount && (w.spec.volumeClaimTemplates || [])
          .find((t) => t.metadata.name === dataMount.name);
        if (!claim || !(claim.spec.accessModes || []).includes('ReadWriteOnce')) {
          errors.push(`${cw}: --data_dir ${flags.get('data_dir')} is not a ReadWriteOnce volumeClaimTemplate`);
        }
      } else {
        errors.push(...sharedDatabaseErrors(w, c, flags, byKind, cw, notes));
      }
      for (const f of SECRET_FILE_FLAGS) {
        if (!flags.has(f)) continue;
        const file = flags.get(f);
        const mount = (c.volumeMounts || []).find((vm) => path.dirname(file) === vm.mountPath);
        const vol = mount && (pod.volumes || []).find((v) => v.name === mount.name);
        if (!vol || !vol.secret) {
          errors.push(`${cw}: --${f}=${file} is not in a mounted Secret`);
          continue;
        }
        const secret = (byKind.Secret || []).find((s) => s.metadata.name === vol.secret.secretName);
        if (secret) {
          const keys = Object.keys({ ...secret.data, ...secret.stringData });
          if (!keys.includes(path.basename(file))) {
            errors.push(`${cw}: --${f}: Secret ${secret.metadata.name} has no key ${path.basename(file)}`);
          }
        } else if (EXTERNAL_SECRETS.has(vol.secret.secretName)) {
          notes.add(`Secret ${vol.secret.secretName} is created outside kustomize (k8s/README.md)`);
        } else {
          errors.push(`${cw}: --${f}: Secret ${vol.secret.secretName} is neither rendered nor documented`);
        }
      }
      const mine = (flags.get('services') || SERVICES.join(',')).split(',');
      for (const s of mine) {
        if (!SERVICES.includes(s)) errors.push(`${cw}: --services names unknown service ${s}`);
        else if (hosted.has(s)) errors.push(`${name}: service ${s} is hosted twice`);
        else hosted.set(s, w);
      }
      const ready = c.readinessProbe && c.readinessProbe.grpc && c.readinessProbe.grpc.service;
      if (ready && !mine.includes(ready)) {
        errors.push(`${cw}: readinessProbe asks for ${ready}, which this vlad does not host`);
      }
      info.push({ w, labels, flags, services: mine, shared });
    }
    for (const [kind, sel] of [['PodDisruptionBudget', (o) => o.spec.selector],
      ['Service', (o) => ({ matchLabels: o.spec.selector })],
      ['NetworkPolicy', (o) => o.spec.podSelector]]) {
      if (!(byKind[kind] || []).some((o) => matches(sel(o), labels))) {
        errors.push(`${where}: no ${kind} selects its pods`);
      }
    }
  }
  for (const s of SERVICES) {
    if (!hosted.has(s)) errors.push(`${name}: no workload hosts ${s}`);
  }

  // Calls between workloads: peer addresses must name a Service of the peer's pods.
  const calls = new Set(); // "caller->callee" workload names
  for (const { w, flags, services } of info) {
    for (const [flag, service] of Object.entries(PEER_FLAGS)) {
      if (services.includes(service)) continue;
      const needs = service === 'vmdb' ? services.some((s) => s !== 'vmdb')
        : services.includes('okr-status');
      if (!flags.has(flag)) {
        if (needs) errors.push(`${name}: ${w.metadata.name} hosts no ${service} and has no --${flag}`);
        continue;
      }
      const [host] = flags.get(flag).split(':');
      const svc = (byKind.Service || []).find((o) => o.metadata.name === host.split('.')[0]);
      const callee = hosted.get(service);
      if (!svc || !callee || !matches({ matchLabels: svc.spec.selector }, callee.spec.template.metadata.labels) ||
          !svc.spec.ports.some((p) => p.port === portOf(flags.get(flag)))) {
        errors.push(`${name}: --${flag}=${flags.get(flag)} of ${w.metadata.name} is not a Service ` +
                    `port of the pods hosting ${service}`);
        continue;
      }
      calls.add(`${w.metadata.name}->${callee.metadata.name}`);
    }
  }
  // Evaluator replicas on a shared database forward calls to each other.
  for (const { w, services, shared } of info) {
    if (shared && services.includes('evaluator')) calls.add(`${w.metadata.name}->${w.metadata.name}`);
  }
  // NetworkPolicies: workload A may reach workload B's gRPC port exactly when A calls B (its own
  // replicas included).
  for (const a of info) {
    for (const b of info) {
      const grpcPort = (b.w.spec.template.spec.containers[0].ports || []).find((p) => p.name === 'grpc');
      const allowed = (byKind.NetworkPolicy || [])
        .filter((np) => matches(np.spec.podSelector, b.labels))
        .some((np) => (np.spec.ingress || []).some((rule) =>
          (!rule.ports || rule.ports.some((p) => p.port === 'grpc' || p.port === (grpcPort || {}).containerPort)) &&
          (rule.from || []).some((peer) => !peer.namespaceSelector && peer.podSelector &&
            matches(peer.podSelector, a.labels))));
      const should = calls.has(`${a.w.metadata.name}->${b.w.metadata.name}`);
      if (should && !allowed) {
        errors.push(`${name}: NetworkPolicy keeps ${a.w.metadata.name} from ${b.w.metadata.name}, which it calls`);
      } else if (!should && allowed && a !== b) {
        errors.push(`${name}: NetworkPolicy lets ${a.w.metadata.name} reach ${b.w.metadata.name}, which it does not call`);
      }
    }
  }
  return errors;
}

// The rules of a workload whose services keep their data in PostgreSQL (--database).
function sharedDatabaseErrors(w, c, flags, byKind, cw, notes) {
  const errors = [];
  if (!(w.spec.replicas >= 2)) {
    errors.push(`${cw}: replicas must be at least 2 on a shared --database (high availability), ` +
                `not ${w.spec.replicas}`);
  }
  const m = /^\$\(([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(flags.get('database'));
  const env = m && (c.env || []).find((e) => e.name === m[1]);
  const ref = env && env.valueFrom && env.valueFrom.secretKeyRef;
  if (!ref) {
    errors.push(`${cw}: --database must come from a Secret ($(VAR) of an env var from a ` +
                'secretKeyRef), not be written in the manifests');
  } else {
    const clusters = (byKind.Cluster || []).map((o) => `${o.metadata.name}-app`);
    if (clusters.includes(ref.name)) {
      if (ref.key !== 'uri') errors.push(`${cw}: --database: CloudNativePG's Secret ${ref.name} has the URI in key uri`);
      notes.add(`Secret ${ref.name} is written by the CloudNativePG operator`);
    } else if (!EXTERNAL_SECRETS.has(ref.name)) {
      errors.push(`${cw}: --database: Secret ${ref.name} is neither a rendered Cluster's app Secret nor documented`);
    }
  }
  if ((flags.get('services') || SERVICES.join(',')).split(',').includes('evaluator')) {
    const grpc = (c.ports || []).find((p) => p.name === 'grpc');
    if (!flags.has('advertise_address')) {
      errors.push(`${cw}: evaluator replicas need --advertise_address (their peers forward calls to it)`);
    } else if (!grpc || portOf(flags.get('advertise_address')) !== grpc.containerPort) {
      errors.push(`${cw}: --advertise_address=${flags.get('advertise_address')} is not the gRPC port`);
    }
  }
  return errors;
}

// Breaks a copy of a rendered overlay and returns the errors the check reports.
function selfTest(name, objs, known) {
  const cases = [
    ['no readiness probe', /no native gRPC readinessProbe/,
      (o) => { delete sts(o).spec.template.spec.containers[0].readinessProbe; }],
    ['writable root', /readOnlyRootFilesystem is not true/,
      (o) => { sts(o).spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = false; }],
    ['no limits', /no resources\.limits\.memory/,
      (o) => { delete sts(o).spec.template.spec.containers[0].resources.limits; }],
    ['capabilities kept', /do not drop ALL/,
      (o) => { sts(o).spec.template.spec.containers[0].securityContext.capabilities.drop = []; }],
    ['schema violation', /schema: .*port must be integer/,
      (o) => { sts(o).spec.template.spec.containers[0].livenessProbe.grpc.port = 'health'; }],
    ['two replicas', /replicas must be 1/, (o) => { sts(o).spec.replicas = 2; }],
    ['unknown flag', /unknown flag --no_such_flag/,
      (o) => { o.find((x) => x.kind === 'ConfigMap').data['vlad.flags'] += '\n--no_such_flag=1\n'; }],
    ['short grace period', /terminationGracePeriodSeconds 5 is not above/,
      (o) => { sts(o).spec.template.spec.terminationGracePeriodSeconds = 5; }],
    ['no PDB', /no PodDisruptionBudget selects/,
      (o) => o.splice(o.findIndex((x) => x.kind === 'PodDisruptionBudget'), 1)],
    ['caller shut out', /keeps vla-evaluator from vla-vmdb/,
      (o) => { np(o, 'vla-peers-vmdb').spec.ingress[0].from.splice(0, 1); }],
    ['stranger let in', /lets vla-vmdb reach vla-evaluator/,
      (o) => {
        np(o, 'vla-peers-evaluator').spec.ingress[0].from.push(
          { podSelector: { matchLabels: { 'app.kubernetes.io/component': 'vmdb' } } });
      }],
    ['wrong peer address', /--vmdb_address=vla-nowhere:50051/,
      (o) => {
        const cm = o.find((x) => x.kind === 'ConfigMap' && /evaluator/.test(x.metadata.name));
        cm.data['service.flags'] = cm.data['service.flags'].replace('vla-vmdb:', 'vla-nowhere:');
      }],
  ];
  const haCases = [
    ['literal database URI', /--database must come from a Secret/,
      (o) => {
        const c = evaluator(o).spec.template.spec.containers[0];
        c.args = c.args.map((a) => a.replace('$(VLA_DATABASE)', 'postgresql://vla:pw@db/vla'));
      }],
    ['one replica on a database', /replicas must be at least 2 on a shared --database/,
      (o) => { evaluator(o).spec.replicas = 1; }],
    ['no advertised address', /need --advertise_address/,
      (o) => {
        const c = evaluator(o).spec.template.spec.containers[0];
        c.args = c.args.filter((a) => !a.startsWith('--advertise_address'));
      }],
    ['evaluator replicas shut out', /keeps vla-evaluator from vla-evaluator/,
      (o) => o.splice(o.findIndex((x) => x.metadata.name === 'vla-peers-evaluator-replicas'), 1)],
    ['one database instance', /spec\.instances must be an integer of at least 2/,
      (o) => { o.find((x) => x.kind === 'Cluster').spec.instances = 1; }],
    ['asynchronous standbys only', /minSyncReplicas must be at least 1/,
      (o) => { delete o.find((x) => x.kind === 'Cluster').spec.minSyncReplicas; }],
  ];
  function evaluator(o) { return o.find((x) => x.kind === 'StatefulSet' && x.metadata.name === 'vla-evaluator'); }
  function sts(o) { return o.find((x) => x.kind === 'StatefulSet'); }
  function np(o, n) { return o.find((x) => x.kind === 'NetworkPolicy' && x.metadata.name === n); }
  const failures = [];
  const mine = name === path.join('overlays', 'ha') ? haCases : cases;
  for (const [what, want, breakIt] of mine) {
    const copy = JSON.parse(JSON.stringify(objs));
    breakIt(copy);
    const errors = checkRender(name, copy, known, new Set());
    if (!errors.some((e) => want.test(e))) {
      failures.push(`self-test "${what}": expected an error matching ${want}, got: ${errors.join('; ') || 'none'}`);
    }
  }
  return failures;
}

function main() {
  const known = vladFlags(args.vlad);
  const dirs = [path.join(args.k8s, 'base')];
  const overlays = path.join(args.k8s, 'overlays');
  for (const d of fs.readdirSync(overlays).sort()) dirs.push(path.join(overlays, d));
  const notes = new Set();
  let failed = 0;
  let checked = 0;
  for (const dir of dirs) {
    const name = path.relative(args.k8s, dir);
    let objs;
    try {
      objs = render(args.kubectl, dir);
    } catch (e) {
      console.log(`FAIL: ${name}: kubectl kustomize: ${(e.stderr || e.message).toString().trim()}`);
      failed++;
      continue;
    }
    const errors = checkRender(name, objs, known, notes);
    if (args.selfTest && [path.join('overlays', 'prod'), path.join('overlays', 'ha')].includes(name)) {
      errors.push(...selfTest(name, objs, known));
    }
    for (const e of errors) console.log(`FAIL: ${e}`);
    if (errors.length) failed++;
    else console.log(`OK: ${name}: ${objs.length} objects valid (${[...new Set(objs.map((o) => o.kind))].join(', ')})`);
    checked++;
  }
  for (const n of notes) console.log(`NOTE: ${n}`);
  if (args.selfTest && !dirs.some((d) => d.endsWith(path.join('overlays', 'prod')))) {
    console.log('FAIL: no overlays/prod to run the self-test on');
    failed++;
  }
  console.log(`${dirs.length - failed} passed, ${failed} failed`);
  process.exit(failed || checked !== dirs.length ? 1 : 0);
}

main();
