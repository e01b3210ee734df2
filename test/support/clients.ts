// The real package-manager CLIs, each in an isolated home, cache and config, pointed at a
// registry under test. A scenario is written once against this interface and run with every
// client; where a client has no such command, `supports` says so and the scenario is skipped
// with that reason rather than faked.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN } from './paths.ts';

export type ClientName = 'npm' | 'pnpm' | 'yarn';
export const CLIENTS: readonly ClientName[] = ['npm', 'pnpm', 'yarn'];

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type Capability = 'login-web' | 'login-legacy' | 'deprecate' | 'unpublish' | 'owner' | 'token' | 'search' | 'dist-tag-rm';

const UNSUPPORTED: Record<ClientName, Partial<Record<Capability, string>>> = {
  npm: {},
  pnpm: { 'login-legacy': 'pnpm 12 has only the web login', token: 'pnpm 12 has no token command', owner: 'pnpm 12 has no owner command' },
  yarn: {
    'login-legacy': 'yarn npm login prompts on a TTY only',
    'login-web': 'yarn uses the web login only against the public registry unless --web-login',
    deprecate: 'yarn has no deprecate command',
    unpublish: 'yarn has no unpublish command',
    owner: 'yarn has no owner command',
    token: 'yarn has no token command',
    search: 'yarn has no registry search',
  },
};

export class Client {
  readonly name: ClientName;
  readonly registry: string;
  readonly home: string;
  private token: string | null = null;

  constructor(name: ClientName, registry: string) {
    this.name = name;
    this.registry = registry;
    this.home = mkdtempSync(path.join(os.tmpdir(), `attestry-${name}-`));
    mkdirSync(path.join(this.home, 'projects'));
    this.writeUserConfig();
  }

  /** Why the client cannot do `cap`, or undefined when it can. */
  unsupported(cap: Capability): string | undefined {
    return UNSUPPORTED[this.name][cap];
  }

  get hostKey(): string {
    const u = new URL(this.registry);
    return `//${u.host}${u.pathname.replace(/\/?$/, '/')}`;
  }

  setToken(token: string | null): void {
    this.token = token;
    this.writeUserConfig();
  }

  private writeUserConfig(): void {
    const npmrc = [
      `registry=${this.registry}/`,
      `cache=${path.join(this.home, 'npm-cache')}`,
      'audit=false',
      'fund=false',
      'update-notifier=false',
      `store-dir=${path.join(this.home, 'pnpm-store')}`,
      `cache-dir=${path.join(this.home, 'pnpm-cache')}`,
      'minimum-release-age=0',
      ...(this.token ? [`${this.hostKey}:_authToken=${this.token}`] : []),
    ];
    writeFileSync(path.join(this.home, '.npmrc'), `${npmrc.join('\n')}\n`);
  }

  /** A fresh project directory with this client's project-level config. */
  project(name: string, manifest: Record<string, unknown>, files: Record<string, string> = {}): string {
    const dir = mkdtempSync(path.join(this.home, 'projects', `${name.replace(/[@/]/g, '_')}-`));
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, ...manifest }, null, 2));
    for (const [f, content] of Object.entries(files)) writeFileSync(path.join(dir, f), content);
    if (this.name === 'yarn') {
      const yarnrc = [
        `npmRegistryServer: "${this.registry}"`,
        ...(this.token ? [`npmAuthToken: "${this.token}"`] : []),
        'npmAlwaysAuth: true',
        'unsafeHttpWhitelist: ["127.0.0.1", "localhost"]',
        'npmMinimalAgeGate: 0',
        'nodeLinker: node-modules',
        'enableGlobalCache: false',
        `cacheFolder: "${path.join(dir, '.yarn-cache')}"`,
        'enableTelemetry: false',
        'enableImmutableInstalls: false',
      ];
      writeFileSync(path.join(dir, '.yarnrc.yml'), `${yarnrc.join('\n')}\n`);
      // yarn refuses to publish a workspace its lockfile does not list: install it first.
      writeFileSync(path.join(dir, 'yarn.lock'), '');
      const r = spawnSync(path.join(BIN, 'yarn'), ['install'], { cwd: dir, env: this.env(), encoding: 'utf8', timeout: 60_000 });
      if (r.status !== 0) throw new Error(`yarn install in a new project failed:\n${r.stdout}\n${r.stderr}`);
    }
    return dir;
  }

  env(): NodeJS.ProcessEnv {
    return {
      PATH: `${BIN}:${process.env.PATH ?? ''}`,
      HOME: this.home,
      npm_config_userconfig: path.join(this.home, '.npmrc'),
      YARN_ENABLE_IMMUTABLE_INSTALLS: 'false',
      YARN_ENABLE_PROGRESS_BARS: 'false',
      NO_COLOR: '1',
      FORCE_COLOR: '0',
      CI: '',
      TMPDIR: os.tmpdir(),
    };
  }

  /**
   * Runs a command and reacts to what it prints: each time the output matches an entry's
   * pattern, that entry's answer is called once (to type at a prompt, or to act as the browser).
   */
  run(args: string[], cwd: string, options: { input?: string; timeoutMs?: number; env?: Record<string, string>; on?: Array<[RegExp, (match: RegExpExecArray) => string | Promise<string>]> } = {}): Promise<RunResult> {
    const bin = this.name === 'npm' ? 'npm' : path.join(BIN, this.name);
    // Extra variables (a simulated CI's) are layered over the isolated environment.
    const env = { ...this.env(), ...options.env };
    return new Promise((resolve, reject) => {
      const child = spawn(bin, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      const pending = [...(options.on ?? [])];
      const react = () => {
        for (let i = 0; i < pending.length; i++) {
          const [re, answer] = pending[i] as [RegExp, (m: RegExpExecArray) => string | Promise<string>];
          const m = re.exec(stdout + stderr);
          if (!m) continue;
          pending.splice(i, 1);
          Promise.resolve(answer(m)).then((text) => {
            if (text) child.stdin.write(text);
          }, (e: unknown) => {
            stderr += `\n[test reaction failed: ${String(e)}]`;
            child.kill('SIGKILL');
          });
          return;
        }
      };
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        react();
      });
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        react();
      });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${this.name} ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
      }, options.timeoutMs ?? 120_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        child.stdin.destroy();
        resolve({ code: code ?? -1, stdout, stderr });
      });
      if (options.on?.length) {
        if (options.input) child.stdin.write(options.input);
      } else {
        child.stdin.end(options.input ?? '');
      }
    });
  }

  /** Runs and fails the test with the client's output when the command fails. */
  async ok(args: string[], cwd: string, options: Parameters<Client['run']>[2] = {}): Promise<RunResult> {
    const r = await this.run(args, cwd, options);
    if (r.code !== 0) throw new Error(`${this.name} ${args.join(' ')} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
    return r;
  }

  // ---- the operations scenarios use, in each client's own words ----

  /** Arguments for `ok`/`run` that publish the project in `dir`. */
  publishArgs(dir: string, extra: string[] = []): [string[], string] {
    if (this.name === 'npm') return [['publish', ...extra], dir];
    if (this.name === 'pnpm') return [['publish', '--no-git-checks', ...extra], dir];
    return [['npm', 'publish', ...extra], dir];
  }

  async publish(dir: string, extra: string[] = []): Promise<RunResult> {
    return this.run(...this.publishArgs(dir, extra));
  }

  install(dir: string, specs: string[] = []): Promise<RunResult> {
    if (this.name === 'npm') return this.run(specs.length ? ['install', ...specs] : ['install'], dir);
    if (this.name === 'pnpm') return this.run(specs.length ? ['add', ...specs] : ['install'], dir);
    return this.run(specs.length ? ['add', ...specs] : ['install'], dir);
  }

  /** An install that must follow the lockfile exactly. */
  frozenInstall(dir: string): Promise<RunResult> {
    if (this.name === 'npm') return this.run(['ci'], dir);
    if (this.name === 'pnpm') return this.run(['install', '--frozen-lockfile'], dir);
    return this.run(['install', '--immutable'], dir);
  }

  /** Clears every cache the client keeps, so the next install fetches from the registry. */
  clearCaches(): void {
    for (const d of ['npm-cache', 'pnpm-store', 'pnpm-cache', '.yarn/berry']) rmSync(path.join(this.home, d), { recursive: true, force: true });
  }

  whoami(dir: string): Promise<RunResult> {
    return this.name === 'yarn' ? this.run(['npm', 'whoami'], dir) : this.run(['whoami'], dir);
  }

  distTagAdd(dir: string, spec: string, tag: string): Promise<RunResult> {
    return this.name === 'yarn' ? this.run(['npm', 'tag', 'add', spec, tag], dir) : this.run(['dist-tag', 'add', spec, tag], dir);
  }

  distTagRm(dir: string, name: string, tag: string): Promise<RunResult> {
    return this.name === 'yarn' ? this.run(['npm', 'tag', 'remove', name, tag], dir) : this.run(['dist-tag', 'rm', name, tag], dir);
  }

  distTagLs(dir: string, name: string): Promise<RunResult> {
    return this.name === 'yarn' ? this.run(['npm', 'tag', 'list', name], dir) : this.run(['dist-tag', 'ls', name], dir);
  }

  view(dir: string, spec: string, field?: string): Promise<RunResult> {
    if (this.name === 'yarn') return this.run(['npm', 'info', spec, '--json', ...(field ? ['--fields', field] : [])], dir);
    return this.run(['view', spec, ...(field ? [field] : []), '--json'], dir);
  }

  deprecate(dir: string, spec: string, message: string): Promise<RunResult> {
    return this.run(['deprecate', spec, message], dir);
  }

  unpublish(dir: string, spec: string, force = false): Promise<RunResult> {
    return this.run(['unpublish', spec, ...(force ? ['--force'] : [])], dir);
  }

  search(dir: string, text: string): Promise<RunResult> {
    return this.run(['search', text, '--json'], dir);
  }

  cleanup(): void {
    rmSync(this.home, { recursive: true, force: true });
  }
}
