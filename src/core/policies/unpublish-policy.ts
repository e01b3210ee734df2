// DEL-1/DEL-3: when may an author remove a version? A pure function of the facts, so the policy
// is testable and documented in one place (docs/unpublish-policy.md).

export interface UnpublishPolicy {
  windowHours: number;
  allowAfterWindowWithoutDependents: boolean;
}

export interface UnpublishFacts {
  now: number;
  publishedAt: number;
  ownerCount: number;
  dependents: readonly string[];
}

export type UnpublishVerdict = { allowed: true; reason: 'within-window' | 'no-dependents-single-owner' } | { allowed: false; code: string; message: string };

export function judgeUnpublish(policy: UnpublishPolicy, facts: UnpublishFacts): UnpublishVerdict {
  const ageHours = (facts.now - facts.publishedAt) / 3_600_000;
  if (ageHours < policy.windowHours) return { allowed: true, reason: 'within-window' };
  const after = `It was published more than ${policy.windowHours} hours ago`;
  if (!policy.allowAfterWindowWithoutDependents) {
    return { allowed: false, code: 'UNPUBLISH_WINDOW_CLOSED', message: `${after}; deprecate it instead (npm deprecate)` };
  }
  if (facts.dependents.length > 0) {
    const shown = facts.dependents.slice(0, 5).join(', ');
    return { allowed: false, code: 'UNPUBLISH_HAS_DEPENDENTS', message: `${after} and other packages in this registry depend on it (${shown}); deprecate it instead` };
  }
  if (facts.ownerCount > 1) {
    return { allowed: false, code: 'UNPUBLISH_MULTIPLE_OWNERS', message: `${after} and it has more than one owner; deprecate it instead` };
  }
  return { allowed: true, reason: 'no-dependents-single-owner' };
}
