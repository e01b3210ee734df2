// Starting the servers under test (Attestry, Verdaccio 6) and the static baseline (nginx), each
// pinned to one core with taskset, on loopback, with all data under bench/.work.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, waitForHttp } from './http.ts';
import { start } from './procs.ts';
import type { Proc } from './procs.ts';

export interface Server {
  name: string;
  url: string;
  proc: Proc;
  token: string;
}

export const SERVER_CORE = '0';
export const CLIENT_CORE = '1';

/** A TCP port that was free a moment ago (the server binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForLogLine(file: string, match: (line: Record<string, unknown>) => boolean, timeoutMs: number, proc: Proc): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== undefined) throw new Error(`${proc.name} exited (${String(proc.exitCode)}) during start-up; see ${file}:\n${tail(file)}`);
    if (existsSync(file)) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const j = JSON.parse(line) as Record<string, unknown>;
          if (match(j)) return j;
        } catch {
          // partial line
        }
      }
    }
    await sleep(100);
  }
  throw new Error(`${proc.name} did not log readiness within ${timeoutMs} ms; see ${file}:\n${tail(file)}`);
}

export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Registers a user through the CouchDB-style adduser API both servers speak; returns its token. */
export async function addUser(url: string, name: string, password: string): Promise<string> {
  const r = await request('PUT', `${url}/-/user/org.couchdb.user:${encodeURIComponent(name)}`, {
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ _id: `org.couchdb.user:${name}`, name, password, email: `${name}@example.com`, type: 'user', roles: [] }),
  });
  const body = r.body.toString('utf8');
  if (r.status >= 300) throw new Error(`adduser on ${url} failed: HTTP ${r.status} ${body.slice(0, 300)}`);
  const token = (JSON.parse(body) as { token?: string }).token;
  if (!token) throw new Error(`adduser on ${url} returned no token: ${body.slice(0, 300)}`);
  return token;
}

export interface AttestryOptions {
  root: string;
  nodeBin: string;
  dataDir: string;
  logFile: string;
  extraNodeArgs?: string[];
  env?: Record<string, string>;
}

/** The flags `npm start` gives Node (package.json). */
const PRODUCTION_NODE_FLAGS = ['--enable-source-maps', '--max-semi-space-size=2'];

export async function startAttestry(o: AttestryOptions): Promise<Server> {
  rmSync(o.dataDir, { recursive: true, force: true });
  rmSync(o.logFile, { force: true });
  mkdirSync(o.dataDir, { recursive: true });
  // The production start path, as `npm start` runs it: compiled JavaScript with its V8 flags.
  execFileSync(o.nodeBin, [path.join(o.root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: o.root, stdio: 'inherit' });
  const proc = start('attestry', 'taskset', ['-c', SERVER_CORE, o.nodeBin, ...PRODUCTION_NODE_FLAGS, ...(o.extraNodeArgs ?? []), 'dist/cli/main.js', 'serve'], {
    cwd: o.root,
    logFile: o.logFile,
    env: { ...process.env, ...o.env, ATTESTRY_DATA_DIR: o.dataDir, ATTESTRY_PORT: '0', ATTESTRY_HOST: '127.0.0.1', ATTESTRY_REQUIRE_VERIFIED_EMAIL: 'false', ATTESTRY_REQUIRE_MFA: 'false', ...o.env },
  });
  const line = await waitForLogLine(o.logFile, (j) => j.msg === 'registry listening', 60_000, proc);
  const url = String(line.url).replace(/\/+$/, '');
  await waitForHttp(`${url}/-/ping`, 10_000, () => proc.exitCode === undefined);
  const token = await addUser(url, 'bench', 'bench-password-123');
  return { name: 'Attestry', url, proc, token };
}

export interface VerdaccioOptions {
  root: string;
  nodeBin: string;
  workDir: string;
}

export async function startVerdaccio(o: VerdaccioOptions): Promise<Server> {
  const bin = path.join(o.root, 'bench/node_modules/verdaccio/bin/verdaccio');
  if (!existsSync(bin)) throw new Error(`Verdaccio is not installed: run \`npm ci --prefix bench\` (looked for ${bin})`);
  rmSync(o.workDir, { recursive: true, force: true });
  mkdirSync(path.join(o.workDir, 'storage'), { recursive: true });
  mkdirSync(path.join(o.workDir, 'plugins'), { recursive: true });
  const port = await freePort();
  const htpasswd = path.join(o.workDir, 'htpasswd');
  writeFileSync(htpasswd, '');
  // Local storage only: no uplinks, so every request is answered from this storage.
  const config = `# generated by bench/servers.ts
storage: ${JSON.stringify(path.join(o.workDir, 'storage'))}
plugins: ${JSON.stringify(path.join(o.workDir, 'plugins'))}
web:
  enable: false
auth:
  htpasswd:
    file: ${JSON.stringify(htpasswd)}
    max_users: 1000
uplinks: {}
packages:
  '@*/*':
    access: $all
    publish: $authenticated
    unpublish: $authenticated
  '**':
    access: $all
    publish: $authenticated
    unpublish: $authenticated
server:
  keepAliveTimeout: 65
max_body_size: 200mb
log: { type: stdout, format: json, level: http }
`;
  const cfgFile = path.join(o.workDir, 'config.yaml');
  writeFileSync(cfgFile, config);
  const logFile = path.join(o.workDir, 'verdaccio.log');
  const proc = start('verdaccio', 'taskset', ['-c', SERVER_CORE, o.nodeBin, bin, '--config', cfgFile, '--listen', `127.0.0.1:${port}`], {
    cwd: o.workDir,
    logFile,
    env: { ...process.env, NODE_ENV: 'production' },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/-/ping`, 60_000, () => proc.exitCode === undefined).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}\n${tail(logFile)}`);
  });
  const token = await addUser(url, 'bench', 'bench-password-123');
  return { name: 'Verdaccio', url, proc, token };
}

export interface NginxOptions {
  workDir: string;
  /** Holds docs/<name>.json and tarballs/<name>/-/<file>.tgz. */
  root: string;
  port: number;
}

/** nginx serving a static dump: documents at /<name> (scoped: /@s%2fn), tarballs at their URL paths. */
export async function startNginx(o: NginxOptions): Promise<Proc> {
  mkdirSync(path.join(o.workDir, 'tmp'), { recursive: true });
  const t = (d: string) => JSON.stringify(path.join(o.workDir, 'tmp', d));
  const userLine = process.getuid?.() === 0 ? 'user root;' : '';
  const conf = `# generated by bench/servers.ts
${userLine}
worker_processes 1;
daemon off;
pid ${JSON.stringify(path.join(o.workDir, 'nginx.pid'))};
error_log ${JSON.stringify(path.join(o.workDir, 'error.log'))} warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  client_body_temp_path ${t('body')};
  proxy_temp_path ${t('proxy')};
  fastcgi_temp_path ${t('fastcgi')};
  uwsgi_temp_path ${t('uwsgi')};
  scgi_temp_path ${t('scgi')};
  server {
    listen 127.0.0.1:${o.port};
    root ${JSON.stringify(o.root)};
    location ~ "/-/[^/]+\\.tgz$" {
      types { }
      default_type application/octet-stream;
      try_files /tarballs$uri =404;
    }
    location / {
      types { }
      default_type application/json;
      try_files /docs$uri.json =404;
    }
  }
}
`;
  const confFile = path.join(o.workDir, 'nginx.conf');
  writeFileSync(confFile, conf);
  const proc = start('nginx', 'taskset', ['-c', SERVER_CORE, 'nginx', '-e', path.join(o.workDir, 'error.log'), '-p', o.workDir, '-c', confFile], {
    logFile: path.join(o.workDir, 'nginx.out'),
  });
  await waitForHttp(`http://127.0.0.1:${o.port}/`, 15_000, () => proc.exitCode === undefined).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}\n${tail(path.join(o.workDir, 'error.log'))}`);
  });
  return proc;
}

/** VmRSS and VmHWM of a process, in MiB. */
export function memoryOf(pid: number): { rssMiB: number; hwmMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
}
