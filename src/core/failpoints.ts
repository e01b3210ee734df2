// Named crash points for crash-consistency tests: when armed (ATTESTRY_FAILPOINT=<name>, read
// only in app.ts, which logs a loud warning), reaching the point kills the process with SIGKILL
// — no cleanup, no finally blocks — exactly like a power cut or an OOM kill at that instant.
export const FAILPOINT_NAMES = ['publish.after-blobs', 'publish.before-commit'] as const;
export type FailpointName = (typeof FAILPOINT_NAMES)[number];
export type Failpoint = (name: FailpointName) => void;

export const noFailpoint: Failpoint = () => undefined;

export function armedFailpoint(armed: string): Failpoint {
  if (!(FAILPOINT_NAMES as readonly string[]).includes(armed)) {
    throw new Error(`unknown failpoint ${armed} (known: ${FAILPOINT_NAMES.join(', ')})`);
  }
  return (name) => {
    if (name === armed) process.kill(process.pid, 'SIGKILL');
  };
}
