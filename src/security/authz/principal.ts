// Who is asking. Every request resolves to exactly one principal before any decision is made.

export interface TokenGrant {
  id: string;
  readonly: boolean;
  kind: 'session' | 'api';
}

export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'user'; userId: number; name: string; isAdmin: boolean; token: TokenGrant | null };

export const ANONYMOUS: Principal = { kind: 'anonymous' };

export type UserPrincipal = Extract<Principal, { kind: 'user' }>;

export const isUser = (p: Principal): p is UserPrincipal => p.kind === 'user';
