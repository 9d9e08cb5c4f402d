import { describe, expect, it } from '@jest/globals';
import { AccessControl } from '../../../operator/http/auth.js';
import { ApiError } from '../../../operator/http/errors.js';
import { FakeAccessReviewer, FakeClock, FakeTokenReviewer, TOKENS, USERS } from './fixtures.js';

function setUp(options: { maxTokens?: number } = {}) {
  const clock = new FakeClock();
  const tokens = new FakeTokenReviewer();
  const access = new FakeAccessReviewer();
  const control = new AccessControl(tokens, access, { clock, ...options });
  return { clock, tokens, access, control };
}

async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (err) {
    if (err instanceof ApiError) return err.statusCode;
    throw err;
  }
}

const tenant = USERS[TOKENS.tenantA]!;
const getPods = (namespace: string) => ({ verb: 'get', resource: 'pods', namespace });

describe('AccessControl.authenticate', () => {
  it('returns the user behind a valid bearer token, whatever the case of the scheme', async () => {
    const { control } = setUp();
    expect(await control.authenticate(`Bearer ${TOKENS.tenantA}`)).toEqual(tenant);
    expect(await control.authenticate(`bearer ${TOKENS.tenantA}`)).toEqual(tenant);
  });

  it.each([undefined, '', 'Bearer ', 'Token abc', 'Bearer two words', 'Bearer garbage'])(
    'rejects %j with a 401',
    async (header) => {
      const { control } = setUp();
      expect(await statusOf(control.authenticate(header))).toBe(401);
    },
  );

  it('shares one review among concurrent requests with the same token', async () => {
    const { control, tokens } = setUp();
    await Promise.all([1, 2, 3].map(() => control.authenticate(`Bearer ${TOKENS.admin}`)));
    expect(tokens.calls).toBe(1);
  });

  it('remembers a rejected token too, so a flood of bad tokens costs one review each per TTL', async () => {
    const { control, tokens, clock } = setUp();
    await statusOf(control.authenticate('Bearer garbage'));
    await statusOf(control.authenticate('Bearer garbage'));
    expect(tokens.calls).toBe(1);
    clock.time += 10_001;
    await statusOf(control.authenticate('Bearer garbage'));
    expect(tokens.calls).toBe(2);
  });

  it('answers 503 when the review fails, and retries on the next request', async () => {
    const { control, tokens } = setUp();
    tokens.failure = new Error('apiserver down');
    expect(await statusOf(control.authenticate(`Bearer ${TOKENS.admin}`))).toBe(503);
    tokens.failure = undefined;
    expect(await control.authenticate(`Bearer ${TOKENS.admin}`)).toEqual(USERS[TOKENS.admin]);
    expect(tokens.calls).toBe(2);
  });

  it('keeps a bounded number of tokens, dropping the oldest first', async () => {
    const { control, tokens } = setUp({ maxTokens: 2 });
    for (const token of [TOKENS.admin, TOKENS.tenantA, TOKENS.nobody])
      await control.authenticate(`Bearer ${token}`);
    await control.authenticate(`Bearer ${TOKENS.nobody}`);
    expect(tokens.calls).toBe(3);
    await control.authenticate(`Bearer ${TOKENS.admin}`);
    expect(tokens.calls).toBe(4);
  });
});

describe('AccessControl.authorize', () => {
  it('lets through what RBAC allows and answers 403 otherwise', async () => {
    const { control } = setUp();
    expect(await statusOf(control.authorize(tenant, getPods('team-a')))).toBe(200);
    expect(await statusOf(control.authorize(tenant, getPods('team-b')))).toBe(403);
    await expect(control.authorize(tenant, { verb: 'list', resource: 'pods' })).rejects.toThrow(
      'User "system:serviceaccount:team-a:viewer" cannot list resource "pods" in API group "" at the cluster scope',
    );
  });

  it('caches each decision per user and attributes', async () => {
    const { control, access, clock } = setUp();
    await control.canI(tenant, getPods('team-a'));
    await control.canI(tenant, getPods('team-a'));
    await control.canI(tenant, getPods('team-b'));
    await control.canI(USERS[TOKENS.admin]!, getPods('team-a'));
    expect(access.calls).toHaveLength(3);
    clock.time += 10_001;
    await control.canI(tenant, getPods('team-a'));
    expect(access.calls).toHaveLength(4);
  });

  it('answers 503 when the review fails', async () => {
    const { control, access } = setUp();
    access.failure = new Error('timeout');
    expect(await statusOf(control.authorize(tenant, getPods('team-a')))).toBe(503);
  });
});
